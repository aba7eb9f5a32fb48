#include "optim/schedule.h"

#include <cmath>
#include <numbers>

#include "core/error.h"

namespace pha {

void ScheduleConfig::validate() const {
  PHA_REQUIRE(std::isfinite(peak_lr) && peak_lr > 0.0,
              "learning-rate schedule: peak_lr = {} must be > 0", peak_lr);
  PHA_REQUIRE(std::isfinite(min_lr) && min_lr >= 0.0 && min_lr <= peak_lr,
              "learning-rate schedule: min_lr = {} must be in [0, peak_lr = {}]", min_lr, peak_lr);
  PHA_REQUIRE(total_steps >= 1, "learning-rate schedule: total_steps = {} must be >= 1",
              total_steps);
  PHA_REQUIRE(warmup_steps >= 0, "learning-rate schedule: warmup_steps = {} must be >= 0",
              warmup_steps);
  PHA_REQUIRE(warmup_steps <= total_steps,
              "learning-rate schedule: warmup_steps = {} exceeds total_steps = {}; shorten the "
              "warmup or train longer",
              warmup_steps, total_steps);
}

CosineSchedule::CosineSchedule(const ScheduleConfig& config) : config_(config) {
  config_.validate();
}

double CosineSchedule::lr(int64_t step) const {
  PHA_REQUIRE(step >= 1, "learning-rate schedule: step {} must be >= 1 (steps count from 1)", step);
  const auto& c = config_;
  if (step <= c.warmup_steps)
    return c.peak_lr * static_cast<double>(step) / static_cast<double>(c.warmup_steps);
  if (step >= c.total_steps) return c.min_lr;
  const double progress = static_cast<double>(step - c.warmup_steps) /
                          static_cast<double>(c.total_steps - c.warmup_steps);
  return c.min_lr + (c.peak_lr - c.min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

}  // namespace pha
