#pragma once
// Per-step measurements and their one-line log form.
#include <cstdint>
#include <string>

namespace pha::launch {

struct StepStats {
  int64_t step = 0, total_steps = 0;
  double loss = 0, lr = 0, grad_norm = 0;
  double seconds = 0;         // wall time of the step
  double tokens = 0;          // tokens processed by the step
  double flops = 0;           // model FLOPs of the step (forward + backward)
  double peak_flops = 0;      // measured matmul (CPU: sgemm of the BLAS kernel in use) peak
  double fma_peak_flops = 0;  // theoretical FMA peak of the CPU cores used; 0 on a GPU
  double peak_rss_mib = 0;
  double eta_seconds = 0;
  double recall_accuracy = -1;  // < 0: not measured
  bool skipped = false;
};

std::string format_step_line(const StepStats& s);
// Peak resident memory of this process (VmHWM) in MiB.
double peak_rss_mib();
std::string format_duration(double seconds);

}  // namespace pha::launch
