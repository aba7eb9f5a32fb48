#pragma once
// What the trainer's metrics records become in TensorBoard: every numeric field of a record as
// "<kind>/<key>" (train/loss, eval/val_loss, ...) and the mixing weights as
// "mixing/layer<l>/<branch>" (the channel mixer's per-channel weights averaged over channels).
#include <vector>

#include "io/metrics.h"
#include "io/tensorboard_writer.h"
#include "layers/model_config.h"

namespace pha::launch {

// The numeric fields of `record` but its "step", tagged "<kind>/<key>".
io::Scalars record_scalars(const std::string& kind, const JsonRecord& record);
// Per layer (first_layer + local index) and active branch of `cfg.block`: the branch's weight.
io::Scalars mixing_scalars(const ModelConfig& cfg, int64_t first_layer,
                           const std::vector<std::vector<float>>& weights);

}  // namespace pha::launch
