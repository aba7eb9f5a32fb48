#include "bench/train_step_bench.h"

#include <chrono>
#include <vector>

#include "core/cpu/cpu_backend.h"
#include "core/cuda/cuda_backend.h"
#include "core/cuda/make_cuda_backend.h"
#include "core/philox.h"
#include "launch/flops.h"
#include "launch/step_log.h"
#include "layers/model.h"

namespace pha::bench {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::unique_ptr<Backend> make_backend(Device device) {
  if (device == Device::cuda) return make_cuda_backend(0);
  return std::make_unique<CpuBackend>();
}

StepBenchResult run_step_bench(const StepBenchConfig& c) {
  ModelConfig cfg = model_preset(c.preset);
  if (!c.block.empty()) cfg.block = BlockKind::parse(c.block);
  cfg.max_seq_len = std::max(cfg.max_seq_len, c.seq_len);
  const std::unique_ptr<Backend> backend = make_backend(c.device);
  auto* cuda = dynamic_cast<CudaBackend*>(backend.get());
  StepBenchResult r;
  {
    Model model(*backend, cfg, c.batch, c.seq_len, Precision::parse(c.precision));
    model.init_parameters(1);
    // Token ids [B * T] as bench_model.cpp draws them.
    std::vector<int32_t> tokens(static_cast<size_t>(c.batch * c.seq_len));
    for (size_t i = 0; i < tokens.size(); ++i)
      tokens[i] = static_cast<int32_t>(philox_block(2, 3, i).v[0] % cfg.vocab);
    auto step = [&] {
      model.zero_grads();
      r.loss = model.forward(tokens.data());
      model.backward();
    };
    for (int64_t i = 0; i < c.warmup; ++i) step();  // scratch grows, FFT plans are made
    backend->synchronize();
    const auto start = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < c.steps; ++i) step();
    backend->synchronize();
    r.seconds_per_step = seconds_since(start) / static_cast<double>(c.steps);
    r.parameters = model.parameter_count();
    const MemoryFigures mem = model.memory();
    r.planned_mib =
        static_cast<double>(mem.parameter_bytes + mem.activation_bytes + mem.scratch_bytes) / kMiB;
  }
  r.tokens_per_s = static_cast<double>(c.batch * c.seq_len) / r.seconds_per_step;
  r.model_flops_per_s = launch::train_flops_per_token(cfg, c.seq_len) * r.tokens_per_s;
  r.peak_mib = cuda ? static_cast<double>(cuda->memory_use().peak) / kMiB : launch::peak_rss_mib();
  return r;
}

MatmulPeaks measure_matmul_peaks(Device device, int64_t n) {
  const std::unique_ptr<Backend> backend = make_backend(device);
  MatmulPeaks p;
  p.f32 = launch::measure_matmul_peak(*backend, n, 5, DType::f32);
  if (device == Device::cuda) p.bf16 = launch::measure_matmul_peak(*backend, n, 5, DType::bf16);
  return p;
}

}  // namespace pha::bench
