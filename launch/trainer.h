#pragma once
// The training loop on dp x tp x pp ranks: micro-batches through the 1F1B pipeline, the
// data-parallel gradient average, global-norm clipping, AdamW (optionally ZeRO-1) with the cosine
// schedule, a log line and a metrics record per step (world rank 0), evaluation every N steps and
// at the end, and the exported weights (one rank only: no layout but (dp, 1, 1) writes them yet).
#include <string>

#include "launch/train_config.h"

namespace pha::launch {

// Exit statuses of `pha train` (documented in docs/cli.md).
enum TrainExit : int {
  kTrainDone = 0,
  kTrainFailed = 1,
  // SIGTERM or SIGUSR1: the current step finished, a checkpoint was committed; requeue and
  // resume with --train.resume=auto (EX_TEMPFAIL).
  kTrainPreempted = 75,
};

// Runs the whole training described by `cfg` on MPI_COMM_WORLD (MPI must be initialised); every
// rank calls it. Returns the exit status; an error during set-up is reported once, by the lowest
// failing rank; an error during training aborts the job with the failing rank and its reason.
int train(const TrainConfig& cfg, const std::string& config_ini);

}  // namespace pha::launch
