// The FMA-peak denominator: a rank's share of the node's cores, and the peak's scaling with it.
#include "core/cpu/cpu_features.h"

#include <gtest/gtest.h>

#include <thread>

namespace pha {
namespace {

TEST(CpuFeatures, RankCoreShareNeverExceedsTheNode) {
  const double hardware = std::max(1u, std::thread::hardware_concurrency());
  EXPECT_DOUBLE_EQ(rank_core_share(1, 1), 1.0);
  // One rank gets at most the node's hardware threads, whatever it asks for.
  EXPECT_DOUBLE_EQ(rank_core_share(4096, 1), hardware);
  // Oversubscribed: the ranks of a node sum to its hardware threads.
  const int ranks = static_cast<int>(hardware) * 2;
  EXPECT_DOUBLE_EQ(rank_core_share(1, ranks) * ranks, hardware);
  EXPECT_DOUBLE_EQ(rank_core_share(3, 0), std::min(3.0, hardware));  // unknown count: one rank
}

TEST(CpuFeatures, PeakIsCoresTimesClockTimesFlopsPerCycle) {
  const double one = theoretical_fma_peak(1.0);
  EXPECT_GT(one, 1e9);  // any x86-64 core of this century
  EXPECT_DOUBLE_EQ(theoretical_fma_peak(0.5), 0.5 * one);
  EXPECT_DOUBLE_EQ(theoretical_fma_peak(3.0), 3.0 * one);
  EXPECT_DOUBLE_EQ(one, measured_clock_hz() * f32_flops_per_cycle(cpu_features()));
}

}  // namespace
}  // namespace pha
