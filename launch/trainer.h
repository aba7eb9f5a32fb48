#pragma once
// The training loop on one rank: micro-batches with gradient accumulation, global-norm clipping,
// AdamW with the cosine schedule, a log line and a metrics record per step, evaluation every N
// steps and at the end, and the exported weights.
#include <string>

#include "launch/train_config.h"

namespace pha::launch {

// Exit statuses of `pha train` (documented in docs/cli.md).
enum TrainExit : int {
  kTrainDone = 0,
  kTrainFailed = 1,
};

// Runs the whole training described by `cfg`; returns the exit status.
int train(const TrainConfig& cfg, const std::string& config_ini);

}  // namespace pha::launch
