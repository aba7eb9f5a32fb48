// Forward+backward throughput of one model configuration on the CPU backend: prints one JSON
// object (tokens/s, seconds per step, CPU seconds per step, peak resident memory, the model's
// planned memory, and the model FLOP/s against the measured sgemm and the cores' theoretical FMA
// peak). bench/model_vs_torch.sh runs it beside the PyTorch reference's training step. --profile
// adds, after the JSON line, a Markdown table of the timed steps per op kind
// (core/profiling_backend.h).
#include <fmt/format.h>
#include <omp.h>
#include <sys/resource.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>

#include "core/cpu/blas_kernel.h"
#include "core/cpu/cpu_backend.h"
#include "core/cpu/cpu_features.h"
#include "core/philox.h"
#include "core/profiling_backend.h"
#include "launch/flops.h"
#include "launch/step_log.h"
#include "launch/train_config.h"
#include "layers/model.h"

extern "C" void openblas_set_num_threads(int);
extern "C" char* openblas_get_corename(void);

namespace po = boost::program_options;

// CPU seconds of the process so far (user + system, all threads): on a shared machine this moves
// less with the load than wall time does.
double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

int main(int argc, char** argv) {
  std::string preset = "tiny", block = "pha", recompute = "none";
  int64_t seq_len = 1024, batch = 1, steps = 3, threads = 1,
          head_chunk_rows = pha::launch::TrainSettings{}.head_chunk_rows;
  bool profile = false;
  po::options_description opts("pha_bench_model [options]");
  opts.add_options()("help,h", "print this help")("preset", po::value(&preset), "model preset")(
      "block", po::value(&block), "block variant")("seq", po::value(&seq_len), "T")(
      "batch", po::value(&batch), "B")("steps", po::value(&steps), "timed steps")(
      "threads", po::value(&threads), "OpenMP and OpenBLAS threads")(
      "recompute", po::value(&recompute), "none | selective | full (train.recompute)")(
      "head-chunk-rows", po::value(&head_chunk_rows),
      "rows of logits at a time, 0 = whole (train.head_chunk_rows, and its default)")(
      "profile", po::bool_switch(&profile), "print a per-op table of the timed steps");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, opts), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << opts;
    return 0;
  }
  omp_set_num_threads(static_cast<int>(threads));
  openblas_set_num_threads(static_cast<int>(threads));
  pha::ModelConfig cfg = pha::model_preset(preset);
  if (vm.count("block")) cfg.block = pha::BlockKind::parse(block);
  cfg.max_seq_len = std::max(cfg.max_seq_len, seq_len);
  pha::CpuBackend cpu;
  pha::ProfilingBackend profiler(cpu);
  pha::Backend& backend = profile ? static_cast<pha::Backend&>(profiler) : cpu;
  pha::ModelPart part;
  part.recompute = pha::parse_recompute(recompute);
  part.head_chunk_rows = head_chunk_rows;
  pha::Model model(backend, cfg, batch, seq_len, {}, part);
  model.init_parameters(1);
  std::vector<int32_t> tokens(static_cast<size_t>(batch * seq_len));
  for (size_t i = 0; i < tokens.size(); ++i)
    tokens[i] = static_cast<int32_t>(pha::philox_block(2, 3, i).v[0] % cfg.vocab);
  auto step = [&] {
    model.zero_grads();
    const double loss = model.forward(tokens.data(), {.head_gradient = true});
    model.backward();
    return loss;
  };
  step();  // warm-up: scratch grows, FFT plans are made
  profiler.reset();
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = process_cpu_seconds();
  for (int64_t i = 0; i < steps; ++i) step();
  const double cpu_seconds = (process_cpu_seconds() - cpu_start) / static_cast<double>(steps);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() /
      static_cast<double>(steps);
  const pha::MemoryFigures mem = model.memory();
  const double peak_rss_mib = pha::launch::peak_rss_mib();  // before the sgemm probe's buffers
  const double flops_per_s = pha::launch::train_flops_per_token(cfg, seq_len) *
                             static_cast<double>(batch * seq_len) / seconds;
  const double sgemm = pha::launch::measure_matmul_peak(cpu);
  const double fma_peak = pha::theoretical_fma_peak(static_cast<double>(threads));
  fmt::print(
      "{{\"impl\":\"pha\",\"preset\":\"{}\",\"block\":\"{}\",\"recompute\":\"{}\","
      "\"head_chunk_rows\":{},\"T\":{},\"B\":{}"
      ",\"threads\":{},"
      "\"parameters\":{},\"seconds_per_step\":{:.4f},\"cpu_seconds_per_step\":{:.4f},"
      "\"tokens_per_s\":{:.1f},"
      "\"peak_rss_mib\":{:.1f},\"planned_activation_mib\":{:.1f},\"activation_mib\":{:.1f},"
      "\"openblas_core\":\"{}\",\"blas_threading\":\"{}\","
      "\"gflops\":{:.1f},\"sgemm_gflops\":{:.1f},\"fma_peak_gflops\":{:.1f},"
      "\"of_sgemm\":{:.3f},\"of_fma_peak\":{:.3f}}}\n",
      preset, cfg.block.str(), recompute, head_chunk_rows, seq_len, batch, threads,
      model.parameter_count(), seconds, cpu_seconds, static_cast<double>(batch * seq_len) / seconds,
      peak_rss_mib, static_cast<double>(mem.activation_bytes + mem.scratch_bytes) / 1048576.0,
      static_cast<double>(mem.activation_bytes) / 1048576.0, openblas_get_corename(),
      pha::blas_threading(), flops_per_s / 1e9, sgemm / 1e9, fma_peak / 1e9, flops_per_s / sgemm,
      flops_per_s / fma_peak);
  if (profile) {
    fmt::print("\n{}\nmodel FLOP/s {:.1f} GFLOP/s = {:.1f}% of the measured sgemm {:.1f} GFLOP/s\n",
               pha::profile_table(profiler.stats(), steps, seconds), flops_per_s / 1e9,
               100.0 * flops_per_s / sgemm, sgemm / 1e9);
  }
  return 0;
}
