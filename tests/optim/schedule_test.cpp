// The learning-rate schedule at chosen steps against values worked by hand.
#include "optim/schedule.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace pha {
namespace {

ScheduleConfig make(double peak, double floor, int64_t warmup, int64_t total) {
  ScheduleConfig c;
  c.peak_lr = peak;
  c.min_lr = floor;
  c.warmup_steps = warmup;
  c.total_steps = total;
  return c;
}

TEST(CosineSchedule, WarmupCosineAndFloor) {
  // peak 1, floor 0.1, W = 10, S = 110: the cosine runs over the 100 steps 11..110 with
  // progress (s - 10) / 100 and lr = 0.1 + 0.45 (1 + cos(pi progress)).
  const CosineSchedule s(make(1.0, 0.1, 10, 110));
  const double tol = 1e-15;
  EXPECT_NEAR(s.lr(1), 0.1, tol);   // 1 * 1/10: warmup starts at peak / W, never at 0
  EXPECT_NEAR(s.lr(5), 0.5, tol);   // 5/10
  EXPECT_NEAR(s.lr(10), 1.0, tol);  // end of warmup: the peak
  // progress 0.01: cos(0.01 pi) = 0.999506560365732 -> 0.1 + 0.45 * 1.999506560365732
  EXPECT_NEAR(s.lr(11), 0.999777952164579, tol);
  // progress 0.25: cos(pi/4) = 0.707106781186548 -> 0.1 + 0.45 * 1.707106781186548
  EXPECT_NEAR(s.lr(35), 0.868198051533946, tol);
  EXPECT_NEAR(s.lr(60), 0.55, tol);  // progress 0.5: halfway between peak and floor
  // progress 0.75: 0.1 + 0.45 * (1 - 0.707106781186548)
  EXPECT_NEAR(s.lr(85), 0.231801948466054, tol);
  EXPECT_EQ(s.lr(110), 0.1);  // the floor exactly at total_steps
  EXPECT_EQ(s.lr(111), 0.1);  // and after it
  EXPECT_EQ(s.lr(1000000), 0.1);
}

TEST(CosineSchedule, MonotoneAfterWarmup) {
  const CosineSchedule s(make(6e-4, 6e-5, 100, 5000));
  for (int64_t step = 2; step <= 100; ++step) EXPECT_GT(s.lr(step), s.lr(step - 1)) << step;
  for (int64_t step = 101; step <= 5000; ++step) EXPECT_LT(s.lr(step), s.lr(step - 1)) << step;
}

TEST(CosineSchedule, NoWarmupAndWarmupOnly) {
  // W = 0, S = 4, peak 1e-3, floor 2e-4: step 1 already decays, progress 1/4:
  // 2e-4 + 4e-4 (1 + cos(pi/4)) = 8.82842712474619e-4; step 2: 2e-4 + 4e-4 = 6e-4.
  const CosineSchedule no_warmup(make(1e-3, 2e-4, 0, 4));
  EXPECT_NEAR(no_warmup.lr(1), 8.82842712474619e-4, 1e-18);
  EXPECT_NEAR(no_warmup.lr(2), 6e-4, 1e-18);
  EXPECT_EQ(no_warmup.lr(4), 2e-4);
  // W = S = 4: linear to the peak at step 4, then the floor.
  const CosineSchedule warmup_only(make(1e-3, 2e-4, 4, 4));
  EXPECT_NEAR(warmup_only.lr(2), 5e-4, 1e-18);
  EXPECT_EQ(warmup_only.lr(4), 1e-3);
  EXPECT_EQ(warmup_only.lr(5), 2e-4);
  // A floor equal to the peak is a constant learning rate after warmup.
  const CosineSchedule constant(make(1e-3, 1e-3, 2, 10));
  EXPECT_EQ(constant.lr(7), 1e-3);
}

TEST(CosineSchedule, RefusesBadArguments) {
  auto bad = [](ScheduleConfig c, const std::string& fragment) {
    test::expect_error([&] { CosineSchedule s(c); }, fragment);
  };
  bad(make(1e-3, 1e-4, 200, 100), "warmup_steps = 200 exceeds total_steps = 100");
  bad(make(1e-3, 1e-4, -1, 100), "warmup_steps = -1 must be >= 0");
  bad(make(1e-3, 1e-4, 0, 0), "total_steps = 0 must be >= 1");
  bad(make(0.0, 0.0, 0, 10), "peak_lr = 0 must be > 0");
  bad(make(-1e-3, 0.0, 0, 10), "peak_lr = -0.001 must be > 0");
  bad(make(1e-3, -1e-4, 0, 10), "min_lr = -0.0001 must be in [0, peak_lr = 0.001]");
  bad(make(1e-3, 2e-3, 0, 10), "min_lr = 0.002 must be in [0, peak_lr = 0.001]");
  bad(make(std::nan(""), 0.0, 0, 10), "peak_lr = nan must be > 0");
  const CosineSchedule s(make(1e-3, 1e-4, 10, 100));
  test::expect_error([&] { (void)s.lr(0); }, "step 0 must be >= 1 (steps count from 1)");
}

}  // namespace
}  // namespace pha
