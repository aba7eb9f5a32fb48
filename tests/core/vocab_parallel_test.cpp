// Vocab-parallel cross-entropy: the four ops composed as backend.h prescribes, with the tp
// all-reduces done by hand (MAX of row_max over the shards, then SUM of stats), against the fused
// cross_entropy_forward/backward on the unsplit logits; the backward against finite differences;
// aliasing of dlogits; refusals.
#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>
#include <vector>

#include "core/cpu/cpu_backend.h"
#include "tests/test_util.h"

namespace pha::test {
namespace {

// Columns [offset, offset + width) of full [rows, V], as a rank holds them: [rows, width].
template <typename T>
Owned<T> columns(const Owned<T>& full, int64_t rows, int64_t offset, int64_t width) {
  const int64_t vocab = full.t.shape.last();
  Owned<T> part(Shape{rows, width});
  for (int64_t r = 0; r < rows; ++r)
    std::copy_n(full.data.begin() + r * vocab + offset, width, part.data.begin() + r * width);
  return part;
}

// What the protocol leaves on rank 0 (every rank's losses and lse are checked to be the same),
// and the ranks' dlogits put back side by side: [rows, V].
template <typename T>
struct Sharded {
  Owned<T> losses, lse, dlogits;
};

// Runs the protocol on shards of `widths` columns (summing to V) of logits [rows, V], with
// outputs started from random contents (the ops write, never accumulate).
template <typename T>
Sharded<T> run_sharded(CpuBackend& be, const Owned<T>& logits, const Owned<int32_t>& targets,
                       const std::vector<int64_t>& widths, double scale) {
  const int64_t rows = logits.t.shape.rows(), vocab = logits.t.shape.last();
  const size_t n = widths.size();
  std::vector<int64_t> offsets(n);
  std::vector<Owned<T>> parts(n);
  for (size_t i = 0, offset = 0; i < n; offset += static_cast<size_t>(widths[i]), ++i) {
    offsets[i] = static_cast<int64_t>(offset);
    parts[i] = columns(logits, rows, offsets[i], widths[i]);
  }
  EXPECT_EQ(offsets.back() + widths.back(), vocab);

  std::vector<Owned<T>> row_max(n, random_tensor<T>({rows}, 20));
  for (size_t i = 0; i < n; ++i) be.vocab_parallel_max(parts[i], row_max[i]);
  Owned<T> max_all(Shape{rows});  // all_reduce(row_max, MAX)
  for (int64_t r = 0; r < rows; ++r) {
    max_all[r] = row_max[0][r];
    for (size_t i = 1; i < n; ++i) max_all[r] = std::max(max_all[r], row_max[i][r]);
  }

  std::vector<Owned<T>> stats(n, random_tensor<T>({2, rows}, 21));
  for (size_t i = 0; i < n; ++i)
    be.vocab_parallel_sums(parts[i], targets, offsets[i], max_all, stats[i]);
  Owned<T> stats_all(Shape{2, rows});  // all_reduce(stats, SUM), in rank order
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < stats_all.size(); ++j) stats_all[j] += stats[i][j];

  Sharded<T> out{Owned<T>(Shape{rows}), Owned<T>(Shape{rows}), Owned<T>(Shape{rows, vocab})};
  for (size_t i = 0; i < n; ++i) {
    auto losses = random_tensor<T>({rows}, 24), lse = random_tensor<T>({rows}, 25);
    be.vocab_parallel_loss(max_all, stats_all, targets, losses, lse);
    if (i == 0) {
      out.losses = losses;
      out.lse = lse;
    }
    EXPECT_EQ(losses.data, out.losses.data) << "rank " << i;
    EXPECT_EQ(lse.data, out.lse.data) << "rank " << i;
  }

  for (size_t i = 0; i < n; ++i) {
    auto dpart = random_tensor<T>({rows, widths[i]}, 26);
    be.vocab_parallel_backward(parts[i], out.lse, targets, offsets[i], scale, dpart);
    for (int64_t r = 0; r < rows; ++r)
      std::copy_n(dpart.data.begin() + r * widths[i], widths[i],
                  out.dlogits.data.begin() + r * vocab + offsets[i]);
  }
  return out;
}

// Targets over [0, vocab) that fall in every shard and on both sides of each shard boundary
// (`edges`, each < vocab), then random ones, with some rows ignored (-1 and -100).
Owned<int32_t> spread_targets(int64_t rows, int32_t vocab, const std::vector<int32_t>& edges,
                              uint64_t seed) {
  auto t = random_tokens({rows}, vocab, seed);
  for (size_t r = 0; r < edges.size() && r < t.size(); ++r) t[r] = edges[r];
  for (size_t r = edges.size(); r < t.size(); r += 3) t[r] = r % 2 ? -1 : -100;
  return t;
}

template <typename T>
void expect_close(const std::vector<T>& got, const std::vector<T>& want, double tol,
                  const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], tol * std::max(1.0, std::abs(static_cast<double>(want[i]))))
        << what << " element " << i;
}

// (a) One shard (offset 0, V_local = V): the composition is the fused op. Logits of rank 3 check
// the [..., V] row convention; mean 800 would overflow exp without the max subtracted.
template <typename T>
void check_one_shard(double tol) {
  CpuBackend be;
  for (auto [b, t, vocab] :
       {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {1, 3, 7}, {2, 3, 37}, {13, 1, 2600}})
    for (double mean : {0.0, 800.0}) {
      const int64_t rows = b * t;
      const auto logits = random_tensor<T>({b, t, vocab}, 1, 3.0, mean);
      auto targets = spread_targets(rows, static_cast<int32_t>(vocab), {0}, 2);
      targets.t = targets.t.view({b, t});
      Owned<T> ref_losses(Shape{b, t}), ref_lse(Shape{b, t}), ref_d(logits.t.shape);
      be.cross_entropy_forward(logits, targets, ref_losses, ref_lse);
      be.cross_entropy_backward(logits, ref_lse, targets, 0.5, ref_d);

      auto row_max = random_tensor<T>({b, t}, 3), stats = random_tensor<T>({2, rows}, 4);
      auto losses = random_tensor<T>({b, t}, 5), lse = random_tensor<T>({b, t}, 6);
      auto dlogits = random_tensor<T>(logits.t.shape, 7);
      be.vocab_parallel_max(logits, row_max);
      be.vocab_parallel_sums(logits, targets, 0, row_max, stats);
      be.vocab_parallel_loss(row_max, stats, targets, losses, lse);
      expect_close(lse.data, ref_lse.data, tol, "lse");
      expect_close(losses.data, ref_losses.data, tol, "losses");
      for (size_t r = 0; r < losses.size(); ++r) {
        if (targets[r] < 0) {
          EXPECT_EQ(losses[r], T(0)) << "ignored row " << r;
        }
      }
      // Given the same lse, the backward is the fused one bit for bit.
      be.vocab_parallel_backward(logits, ref_lse, targets, 0, 0.5, dlogits);
      EXPECT_EQ(dlogits.data, ref_d.data) << b << " x " << t << " x " << vocab << " mean " << mean;
    }
}

TEST(VocabParallel, OneShardMatchesFusedF64) {
  check_one_shard<double>(1e-14);
}
TEST(VocabParallel, OneShardMatchesFusedF32) {
  check_one_shard<float>(1e-6);
}

// (b) Split vocabularies of odd sizes: the losses, lse and concatenated dlogits equal the fused op
// on the unsplit logits. `skew` lifts the first shard's columns so that it holds every row
// maximum and the other shards' exps nearly vanish; 64 x 683 per shard takes the threaded path.
template <typename T>
void check_split(double tol) {
  CpuBackend be;
  struct Case {
    int64_t rows;
    std::vector<int64_t> widths;
    std::vector<int32_t> edges;
  };
  const std::vector<Case> cases = {
      {17, {13, 12, 12}, {0, 12, 13, 24, 25, 36, 5, 30}},
      {17, {19, 18}, {0, 18, 19, 36, 7, 27}},
      {9, {1, 5, 1}, {0, 1, 5, 6, 3}},
      {64, {684, 683, 683}, {0, 683, 684, 1366, 1367, 2049}},
  };
  for (const Case& c : cases)
    for (double mean : {0.0, 800.0})
      for (double skew : {0.0, 60.0}) {
        int64_t vocab = 0;
        for (int64_t w : c.widths) vocab += w;
        auto logits = random_tensor<T>({c.rows, vocab}, 8, 3.0, mean);
        for (int64_t r = 0; r < c.rows; ++r)
          for (int64_t v = 0; v < c.widths[0]; ++v) logits[r * vocab + v] += static_cast<T>(skew);
        const auto targets = spread_targets(c.rows, static_cast<int32_t>(vocab), c.edges, 9);
        Owned<T> ref_losses(Shape{c.rows}), ref_lse(Shape{c.rows}), ref_d(logits.t.shape);
        be.cross_entropy_forward(logits, targets, ref_losses, ref_lse);
        be.cross_entropy_backward(logits, ref_lse, targets, 0.25, ref_d);
        const Sharded<T> got = run_sharded(be, logits, targets, c.widths, 0.25);
        SCOPED_TRACE(testing::Message() << c.rows << " x " << vocab << " in " << c.widths.size()
                                        << " shards, mean " << mean << ", skew " << skew);
        expect_close(got.lse.data, ref_lse.data, tol, "lse");
        expect_close(got.losses.data, ref_losses.data, tol, "losses");
        // Both lse are rounded to T near mean + skew, and an ulp there shifts every exp(l - lse).
        const double ulp = std::numeric_limits<T>::epsilon() * (mean + skew + 1.0);
        EXPECT_LE(rel_error(got.dlogits.data, ref_d.data), tol + 2 * ulp);
        for (size_t r = 0; r < targets.size(); ++r)
          if (targets.data[r] < 0) {
            EXPECT_EQ(got.losses.data[r], T(0)) << "ignored row " << r;
            for (int64_t v = 0; v < vocab; ++v)
              EXPECT_EQ(got.dlogits.data[r * static_cast<size_t>(vocab) + static_cast<size_t>(v)],
                        T(0));
          }
      }
}

TEST(VocabParallel, SplitMatchesFusedF64) {
  check_split<double>(1e-13);
}
TEST(VocabParallel, SplitMatchesFusedF32) {
  check_split<float>(2e-6);
}

// (c) The concatenated dlogits are the gradient of scale * sum(losses) through the whole sharded
// composition (reductions included).
TEST(VocabParallel, BackwardMatchesFiniteDifferences) {
  CpuBackend be;
  for (const auto& widths : {std::vector<int64_t>{13, 12, 12}, std::vector<int64_t>{19, 18}}) {
    const int64_t rows = 11, vocab = 37;
    auto logits = random_tensor<double>({rows, vocab}, 10, 2.0);
    const auto targets = spread_targets(rows, vocab, {0, 12, 13, 18, 19, 24, 25, 36}, 11);
    const double scale = 1.0 / static_cast<double>(rows);
    const auto loss = [&] {
      const Sharded<double> s = run_sharded(be, logits, targets, widths, scale);
      double sum = 0;
      for (double l : s.losses.data) sum += l;
      return scale * sum;
    };
    const Sharded<double> analytic = run_sharded(be, logits, targets, widths, scale);
    check_gradient("vocab_parallel dlogits", logits.data, analytic.dlogits.data, loss, 1e-7);
  }
}

// dlogits may be the shard's logits themselves: bit-identical to the out-of-place result.
TEST(VocabParallel, BackwardInPlace) {
  CpuBackend be;
  const int64_t rows = 64, vocab = 683, offset = 684;
  auto logits = random_tensor<float>({rows, vocab}, 12, 3.0);
  const auto targets = spread_targets(rows, 2050, {684, 1366, 1367, 0}, 13);
  const auto lse = random_tensor<float>({rows}, 14, 1.0, 8.0);
  Owned<float> separate(logits.t.shape);
  be.vocab_parallel_backward(logits, lse, targets, offset, 0.25, separate);
  be.vocab_parallel_backward(logits, lse, targets, offset, 0.25, logits);
  EXPECT_EQ(logits.data, separate.data);
}

// (d) Bad shapes, dtypes and offsets, and a skipped reduction.
TEST(VocabParallel, RefusesBadInput) {
  CpuBackend be;
  const auto logits = random_tensor<float>({2, 3, 7}, 1);
  const auto targets = random_tokens({2, 3}, 7, 2);
  Owned<float> row_max(Shape{6}), stats(Shape{2, 6}), losses(Shape{6}), lse(Shape{2, 3}),
      dlogits(Shape{2, 3, 7});
  expect_error([&] { be.vocab_parallel_max(logits, Owned<float>(Shape{5})); },
               "vocab_parallel_max: row_max [5] must hold one value per row (6 rows)");
  expect_error(
      [&] {
        be.vocab_parallel_max(Owned<float>(Shape{6, 0}), row_max);
      },
      "vocab_parallel_max: logits [6, 0] need a non-empty vocabulary dim");
  expect_error([&] { be.vocab_parallel_max(logits, Owned<double>(Shape{6})); },
               "vocab_parallel_max: mixed element types f32 and f64");

  be.vocab_parallel_max(logits, row_max);
  expect_error(
      [&] {
        be.vocab_parallel_sums(logits, targets, 0, row_max, Owned<float>(Shape{6, 2}));
      },
      "vocab_parallel_sums: stats has shape [6, 2], expected [2, 6]");
  expect_error([&] { be.vocab_parallel_sums(logits, targets, -7, row_max, stats); },
               "vocab_parallel_sums: vocab_offset -7 must not be negative");
  expect_error([&] { be.vocab_parallel_sums(logits, Owned<float>(Shape{6}), 0, row_max, stats); },
               "vocab_parallel_sums: targets must be i32");
  expect_error([&] { be.vocab_parallel_sums(logits, random_tokens({5}, 7, 3), 0, row_max, stats); },
               "vocab_parallel_sums: targets [5] must hold one value per row (6 rows)");
  expect_error([&] { be.vocab_parallel_sums(logits, targets, 0, Owned<float>(Shape{7}), stats); },
               "vocab_parallel_sums: row_max [7] must hold one value per row (6 rows)");
  expect_error(
      [&] {
        be.vocab_parallel_sums(logits, targets, 0, row_max, Owned<double>(Shape{2, 6}));
      },
      "vocab_parallel_sums: mixed element types f32 and f64");

  be.vocab_parallel_sums(logits, targets, 0, row_max, stats);
  expect_error(
      [&] { be.vocab_parallel_loss(row_max, Owned<float>(Shape{12}), targets, losses, lse); },
      "vocab_parallel_loss: stats has shape [12], expected [2, 6]");
  expect_error(
      [&] { be.vocab_parallel_loss(row_max, stats, targets, Owned<float>(Shape{5}), lse); },
      "vocab_parallel_loss: losses [5] must hold one value per row (6 rows)");
  expect_error([&] { be.vocab_parallel_loss(Owned<float>(Shape{3}), stats, targets, losses, lse); },
               "vocab_parallel_loss: row_max [3] must hold one value per row (6 rows)");
  expect_error(
      [&] { be.vocab_parallel_loss(row_max, stats, targets, losses, Owned<double>(Shape{6})); },
      "vocab_parallel_loss: mixed element types f32 and f64");

  be.vocab_parallel_loss(row_max, stats, targets, losses, lse);
  expect_error(
      [&] {
        be.vocab_parallel_backward(logits, lse, targets, 0, 1.0, Owned<float>(Shape{6, 7}));
      },
      "vocab_parallel_backward: dlogits has shape [6, 7] but logits has shape [2, 3, 7]");
  expect_error([&] { be.vocab_parallel_backward(logits, lse, targets, -1, 1.0, dlogits); },
               "vocab_parallel_backward: vocab_offset -1 must not be negative");
  expect_error(
      [&] { be.vocab_parallel_backward(logits, Owned<float>(Shape{5}), targets, 0, 1.0, dlogits); },
      "vocab_parallel_backward: lse [5] must hold one value per row (6 rows)");
  expect_error(
      [&] {
        be.vocab_parallel_backward(logits, lse, targets, 0, 1.0, Owned<double>(Shape{2, 3, 7}));
      },
      "vocab_parallel_backward: mixed element types f32 and f64");
}

// A rank that skips the SUM of stats holds only its own exps: where another shard holds the row
// maximum they sum below 1, and the loss op refuses instead of returning a wrong loss.
TEST(VocabParallel, RefusesSkippedReduction) {
  CpuBackend be;
  const int64_t rows = 4, vocab = 12, width = 6;
  auto full = random_tensor<double>({rows, vocab}, 15);
  for (int64_t r = 0; r < rows; ++r) full[r * vocab] += 50.0;  // every row maximum on rank 0
  const auto targets = random_tokens({rows}, vocab, 16);
  const auto first = columns(full, rows, 0, width), second = columns(full, rows, width, width);
  Owned<double> max0(Shape{rows}), max1(Shape{rows}), stats(Shape{2, rows}), losses(Shape{rows}),
      lse(Shape{rows});
  be.vocab_parallel_max(first, max0);
  be.vocab_parallel_max(second, max1);
  for (int64_t r = 0; r < rows; ++r) max1[r] = std::max(max0[r], max1[r]);  // MAX done
  be.vocab_parallel_sums(second, targets, width, max1, stats);              // SUM skipped
  expect_error([&] { be.vocab_parallel_loss(max1, stats, targets, losses, lse); },
               "vocab_parallel_loss: the sum of exps");
  expect_error([&] { be.vocab_parallel_loss(max1, stats, targets, losses, lse); },
               "is below 1: all-reduce row_max with MAX before vocab_parallel_sums and stats with "
               "SUM after it");
}

}  // namespace
}  // namespace pha::test
