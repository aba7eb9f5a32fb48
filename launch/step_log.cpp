#include "launch/step_log.h"

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <string>

namespace pha::launch {

std::string format_duration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::max(0.0, seconds));
  if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string format_step_line(const StepStats& s) {
  const double flops_per_s = s.flops / s.seconds;
  // Two denominators on the CPU: what the BLAS kernel reaches on a square sgemm (the practical
  // ceiling) and what the cores could do in theory (every FMA unit busy every cycle).
  const std::string of_peak =
      s.fma_peak_flops > 0
          ? fmt::format("{:.1f}% of sgemm {:.0f}, {:.1f}% of FMA peak {:.0f}",
                        100.0 * flops_per_s / s.peak_flops, s.peak_flops / 1e9,
                        100.0 * flops_per_s / s.fma_peak_flops, s.fma_peak_flops / 1e9)
          : fmt::format("{:.1f}% of matmul {:.0f}", 100.0 * flops_per_s / s.peak_flops,
                        s.peak_flops / 1e9);
  std::string line = fmt::format(
      "step {:>5}/{} | loss {:.4f} | ppl {:9.2f} | lr {:.2e} | gnorm {:.3f} | {:7.0f} tok/s | "
      "{:.1f} GFLOP/s ({}) | mem {:.0f} MiB | eta {}",
      s.step, s.total_steps, s.loss, std::exp(s.loss), s.lr, s.grad_norm, s.tokens / s.seconds,
      flops_per_s / 1e9, of_peak, s.peak_rss_mib, format_duration(s.eta_seconds));
  if (s.recall_accuracy >= 0) line += fmt::format(" | recall {:.3f}", s.recall_accuracy);
  if (s.skipped) line += " | SKIPPED (non-finite)";
  return line;
}

double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      double kib = 0;
      status >> kib;
      return kib / 1024.0;
    }
    status.ignore(1 << 12, '\n');
  }
  return 0;
}

}  // namespace pha::launch
