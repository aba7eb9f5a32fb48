#pragma once
// Measurements of pha_bench_gpu: the forward+backward step of one model configuration on a fresh
// backend (throughput, model FLOP/s, peak device memory) and the backend's measured matmul peaks
// that MFU is taken against.
#include <cstdint>
#include <memory>
#include <string>

#include "core/backend.h"

namespace pha::bench {

struct StepBenchConfig {
  Device device = Device::cuda;
  std::string preset = "pha-125m";
  std::string block;  // empty: the preset's block
  int64_t seq_len = 1024, batch = 1;
  int64_t warmup = 1, steps = 3;  // untimed, then timed forward+backward steps
  std::string precision;  // fp32 | bf16 (layers/precision.h); empty: bf16 on cuda, else fp32
};

struct StepBenchResult {
  int64_t parameters = 0;
  double seconds_per_step = 0, tokens_per_s = 0;
  double model_flops_per_s = 0;  // launch/flops.h train_flops_per_token x tokens/s
  double loss = 0;               // of the last step (a sanity value: about log V at init)
  // CUDA: the most device memory the backend held at once (CudaBackend::memory_use, so without
  // the CUDA context); CPU: the process's peak resident set (all configurations so far).
  double peak_mib = 0;
  double planned_mib = 0;  // the model's arenas (parameters, gradients, activations, scratch)
};

// A backend on `device` (GPU 0 for cuda).
std::unique_ptr<Backend> make_backend(Device device);

// Runs the configuration on a fresh backend, so its peak memory is its own. Throws pha::Error,
// e.g. "out of GPU memory ..." when the configuration does not fit.
StepBenchResult run_step_bench(const StepBenchConfig& c);

// Matmul peaks of `device` in FLOP/s (square n x n x n, best of a few after a warm-up); bf16 is 0
// on the CPU backend, which has no bf16 matmul.
struct MatmulPeaks {
  double bf16 = 0, f32 = 0;
};
MatmulPeaks measure_matmul_peaks(Device device, int64_t n);

}  // namespace pha::bench
