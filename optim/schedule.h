#pragma once
// The learning-rate schedule: linear warmup, cosine decay, constant floor.
//
// Steps count from 1 (step s is the s-th optimiser update, AdamW's t). With W = warmup_steps,
// S = total_steps, peak = peak_lr, floor = min_lr:
//   1 <= s <= W:   lr = peak * s / W                 (step 1 gets peak / W, step W gets peak)
//   W < s <= S:    lr = floor + (peak - floor) * (1 + cos(pi * (s - W) / (S - W))) / 2
//   s > S:         lr = floor
// So no step runs with lr 0, the cosine reaches the floor exactly at step S, and training past S
// (a raised step budget on resume) keeps the floor. W = 0 starts the cosine at step 1; W = S
// warms up over the whole run and never decays.
#include <cstdint>

namespace pha {

struct ScheduleConfig {
  double peak_lr = 3e-4;
  double min_lr = 3e-5;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  // Refuses a schedule that is not defined (naming the field): peak_lr > 0, 0 <= min_lr <=
  // peak_lr, 0 <= warmup_steps <= total_steps, total_steps >= 1.
  void validate() const;
};

class CosineSchedule {
 public:
  explicit CosineSchedule(const ScheduleConfig& config);
  // The learning rate of step s >= 1.
  double lr(int64_t step) const;
  const ScheduleConfig& config() const { return config_; }

 private:
  ScheduleConfig config_;
};

}  // namespace pha
