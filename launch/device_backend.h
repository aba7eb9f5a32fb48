#pragma once
// The compute backend of a training rank: the CPU backend, or the CUDA backend on this rank's GPU.
#include <memory>
#include <string>

#include "core/backend.h"

namespace pha::launch {

// `device` is "cpu" or "cuda". On cuda the rank takes visible GPU local_rank % count, so ranks
// of one node spread over its GPUs (with one GPU per rank: CUDA_VISIBLE_DEVICES or Slurm's
// --gpus-per-task may leave each rank one visible GPU, index 0). Throws pha::Error saying what
// to do when this build has no CUDA backend or no GPU can be used.
std::unique_ptr<Backend> make_device_backend(const std::string& device, int local_rank);

}  // namespace pha::launch
