#pragma once
// The CUDA backend, its optimiser kernels and the NCCL communicator live in a plugin,
// libpha_cuda_plugin.so, loaded on first use. Linked into pha, cuBLAS(Lt), cuFFT and NCCL were
// loaded by every process, GPU or not: `pha --help` peaked at 235 MiB resident (16 MiB without
// them), and each CPU rank of a run carried those ~220 MiB. The plugin holds its own copy of
// pha_core (position-independent), so any program can load it; this header needs no CUDA.
#include <memory>
#include <string>

#include "core/backend.h"
#include "core/element_range.h"
#include "core/math/adamw.h"

namespace pha {

namespace parallel {
class Communicator;
class MpiCommunicator;
}  // namespace parallel

// Bumped whenever a member changes: a plugin of another version is refused.
inline constexpr int kCudaPluginVersion = 1;

// The plugin's entry points (core/cuda/cuda_plugin_table.cpp fills them).
struct CudaPlugin {
  int version = 0;
  // Visible devices (0 without a driver or GPU) and, when there are none, why.
  int (*device_count)() = nullptr;
  std::string (*unavailable_reason)() = nullptr;
  std::unique_ptr<Backend> (*make_backend)(int device_index) = nullptr;
  // optim/cuda_kernels.h's operations on GPU tensors.
  void (*adamw)(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                const Tensor& exp_avg_sq, ElementRange range,
                const AdamWScalars<double>& scalars) = nullptr;
  double (*sum_squares)(const Tensor& t, ElementRange range) = nullptr;
  void (*scale)(const Tensor& t, double factor) = nullptr;
  bool (*all_finite)(const Tensor& t) = nullptr;
};

// parallel/make_nccl_communicator.h's functions, in the plugin when NCCL was found.
struct NcclPlugin {
  int version = 0;
  std::unique_ptr<parallel::Communicator> (*make_communicator)(parallel::MpiCommunicator& group,
                                                               Backend& backend) = nullptr;
  bool (*orders_communicators)() = nullptr;
};

// Whether this build made the plugin (CUDA was found when it was configured).
bool cuda_plugin_built();

// The plugin, loaded once (thread-safe): $PHA_CUDA_PLUGIN if set, else the file beside the
// running executable, else the one this build made. Throws pha::Error saying which files were
// tried and what failed when none loads, or when this build has no CUDA backend.
const CudaPlugin& cuda_plugin();

// The plugin's NCCL functions (loading it as cuda_plugin() does); nullptr when it was built
// without NCCL.
const NcclPlugin* nccl_plugin();

}  // namespace pha
