#pragma once
// The Hugging Face-style config.json written beside an exported model.safetensors: the model's
// sizes under the usual transformers names (hidden_size, num_attention_heads, ...) plus pha's own
// (gss_*, block, mixer, ...). `pha import` reads it back into a run configuration.
#include <string>

#include "io/json_value.h"
#include "io/safetensors.h"
#include "launch/train_config.h"

namespace pha::launch {

// config.json text for `cfg`'s model (finalized), its tensors stored as `dtype`.
std::string hf_config_json(const TrainConfig& cfg, io::SafetensorsDType dtype);
// Sets every model key of `cfg` from a parsed config.json; refuses a missing key, another
// model_type, or a value pha's model does not have (rope_theta, rms_norm_eps). `source` names the
// file in messages.
void apply_hf_config(const io::JsonValue& json, const std::string& source, TrainConfig& cfg);

}  // namespace pha::launch
