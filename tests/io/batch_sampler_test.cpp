// The global sample order: a seeded permutation of windows per epoch, deterministic, wrapping into
// new epochs, and data-parallel slices that partition each global batch.
#include "io/batch_sampler.h"

#include <gtest/gtest.h>

#include <numeric>
#include <set>

#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

namespace pha::io {
namespace {

std::vector<uint32_t> counting(size_t n) {
  std::vector<uint32_t> t(n);
  std::iota(t.begin(), t.end(), 0u);
  return t;
}

std::vector<uint64_t> order(const BatchSampler& s, uint64_t first, uint64_t count) {
  std::vector<uint64_t> w(count);
  for (uint64_t i = 0; i < count; ++i) w[i] = s.window_of(first + i);
  return w;
}

TEST(BatchSampler, EachEpochVisitsEveryWindowOnce) {
  for (const uint64_t windows : {1, 2, 3, 7, 64, 1000, 1023, 1025}) {
    const auto tokens = counting(windows * 4 + 3);  // a 3-token tail is never read
    const BatchSampler s(TokenView::of(tokens, windows * 4 + 3), 4, 42);
    ASSERT_EQ(s.windows_per_epoch(), windows);
    for (uint64_t epoch = 0; epoch < 3; ++epoch) {
      const auto w = order(s, epoch * windows, windows);
      EXPECT_EQ(std::set<uint64_t>(w.begin(), w.end()).size(), windows) << windows;
      EXPECT_LT(*std::max_element(w.begin(), w.end()), windows);
    }
  }
}

TEST(BatchSampler, OrderDependsOnlyOnTheSeed) {
  const auto tokens = counting(8000);
  const TokenView view = TokenView::of(tokens, 8000);
  const BatchSampler a(view, 8, 1), b(view, 8, 1), c(view, 8, 2);
  EXPECT_EQ(order(a, 0, 1000), order(b, 0, 1000));
  EXPECT_NE(order(a, 0, 1000), order(c, 0, 1000));
  const auto identity = counting(1000);
  const auto shuffled = order(a, 0, 1000);
  EXPECT_NE(std::vector<uint64_t>(identity.begin(), identity.end()), shuffled);
}

TEST(BatchSampler, EpochsWrapIntoFreshOrders) {
  const auto tokens = counting(500 * 16);
  const BatchSampler s(TokenView::of(tokens, 8000), 16, 9);
  EXPECT_EQ(s.epoch_of(499), 0u);
  EXPECT_EQ(s.epoch_of(500), 1u);
  EXPECT_NE(order(s, 0, 500), order(s, 500, 500));
  EXPECT_EQ(order(s, 1000, 500), order(s, 1000, 500));
}

TEST(BatchSampler, SamplesAreTheirWindowsTokens) {
  const auto tokens = counting(100 * 10);
  const BatchSampler s(TokenView::of(tokens, 1000), 10, 3);
  std::vector<int32_t> out(10);
  for (uint64_t sample = 0; sample < 250; ++sample) {
    s.copy_sample(sample, out.data());
    const auto w = static_cast<int32_t>(s.window_of(sample));
    for (int i = 0; i < 10; ++i) ASSERT_EQ(out[i], w * 10 + i);
  }
}

TEST(BatchSampler, DataParallelSlicesPartitionTheGlobalBatch) {
  const auto tokens = counting(300 * 8);
  const BatchSampler s(TokenView::of(tokens, 2400), 8, 5);
  const uint64_t global = 24, first = 290;  // this batch crosses into epoch 1
  std::vector<int32_t> whole(global * 8);
  s.fill_local_batch(first, global, 0, 1, whole.data());
  for (const int dp : {2, 3, 4, 8}) {
    std::vector<int32_t> joined;
    uint64_t next = first;
    for (int rank = 0; rank < dp; ++rank) {
      const SampleRange r = dp_slice(first, global, rank, dp);
      EXPECT_EQ(r.first, next);
      EXPECT_EQ(r.count, global / dp);
      next += r.count;
      std::vector<int32_t> local(r.count * 8);
      s.fill_local_batch(first, global, rank, dp, local.data());
      joined.insert(joined.end(), local.begin(), local.end());
    }
    EXPECT_EQ(next, first + global);
    EXPECT_EQ(joined, whole) << dp;
  }
}

TEST(BatchSampler, ReadsAShardWithTwoByteTokens) {
  test::TempDir dir;
  const auto tokens = counting(640);
  {
    TokenShardWriter w(dir / "s.bin", 1000, "test");
    w.append(tokens);
    w.close();
  }
  const TokenShard shard(dir / "s.bin", 1024);
  const BatchSampler from_shard(shard.tokens(), 64, 4),
      from_memory(TokenView::of(tokens, 1000), 64, 4);
  std::vector<int32_t> a(64), b(64);
  for (uint64_t sample = 0; sample < 30; ++sample) {
    from_shard.copy_sample(sample, a.data());
    from_memory.copy_sample(sample, b.data());
    ASSERT_EQ(a, b);
  }
}

TEST(BatchSampler, RefusesWhatCannotBeSampled) {
  const auto tokens = counting(100);
  test::expect_error([&] { BatchSampler(TokenView::of(tokens, 100), 128, 1); },
                     "holds 100 tokens, fewer than one sequence of 128");
  test::expect_error([] { dp_slice(0, 10, 0, 4); },
                     "global batch of 10 sequences does not split evenly over 4");
  test::expect_error([] { dp_slice(0, 8, 4, 4); }, "rank 4 is outside 0..3");
}

}  // namespace
}  // namespace pha::io
