// Fused cross-entropy against a naive double computation; its backward against finite
// differences, ignored rows, write (not accumulate) semantics and aliasing of dlogits.
#include <algorithm>
#include <cmath>

#include "core/cpu/cpu_backend.h"
#include "tests/test_util.h"

namespace pha::test {
namespace {

struct Naive {
  std::vector<double> losses, lse;
};

// Per row: lse = log sum exp(logits) (max subtracted), loss = lse - logit[target] or 0.
template <typename T>
Naive naive_cross_entropy(const Owned<T>& logits, const Owned<int32_t>& targets) {
  const size_t rows = targets.size(), vocab = logits.size() / rows;
  Naive out{std::vector<double>(rows), std::vector<double>(rows)};
  for (size_t r = 0; r < rows; ++r) {
    const auto row = logits.data.begin() + static_cast<std::ptrdiff_t>(r * vocab);
    const double m = *std::max_element(row, row + static_cast<std::ptrdiff_t>(vocab));
    double s = 0;
    for (size_t v = 0; v < vocab; ++v) s += std::exp(row[static_cast<std::ptrdiff_t>(v)] - m);
    out.lse[r] = m + std::log(s);
    out.losses[r] = targets.data[r] < 0 ? 0.0 : out.lse[r] - row[targets.data[r]];
  }
  return out;
}

// Targets in [0, V) with every third row ignored (-1 or -100, both negative).
Owned<int32_t> targets_with_ignored(int64_t rows, int32_t vocab, uint64_t seed) {
  auto t = random_tokens({rows}, vocab, seed);
  for (size_t r = 1; r < t.size(); r += 3) t[r] = r % 2 ? -1 : -100;
  return t;
}

// mean 800: exp without the max subtracted would overflow even in double. 13 x 2600 logits take
// the threaded path.
template <typename T>
void check_forward(double tol) {
  CpuBackend be;
  for (int64_t rows : {1, 3, 13})
    for (int64_t vocab : {1, 7, 33, 130, 2600})
      for (double mean : {0.0, 800.0}) {
        const auto logits = random_tensor<T>({rows, vocab}, 1, 3.0, mean);
        const auto targets = targets_with_ignored(rows, static_cast<int32_t>(vocab), 2);
        auto losses = random_tensor<T>({rows}, 3), lse = random_tensor<T>({rows}, 4);
        be.cross_entropy_forward(logits, targets, losses, lse);
        const Naive ref = naive_cross_entropy(logits, targets);
        EXPECT_LE(rel_error(lse.data, ref.lse), tol) << rows << " x " << vocab << " mean " << mean;
        for (size_t r = 0; r < losses.size(); ++r) {
          EXPECT_NEAR(losses[r], ref.losses[r], tol * std::max(1.0, ref.losses[r]))
              << "row " << r << " of " << rows << " x " << vocab << " mean " << mean;
          if (targets.data[r] < 0) {
            EXPECT_EQ(losses[r], T(0));
          }
        }
      }
}

TEST(CrossEntropy, ForwardMatchesNaiveF64) {
  check_forward<double>(1e-13);
}
TEST(CrossEntropy, ForwardMatchesNaiveF32) {
  check_forward<float>(1e-6);
}

// dlogits is the gradient of scale * sum(losses); it is written over random contents, and ignored
// rows get zeros.
TEST(CrossEntropy, BackwardMatchesFiniteDifferences) {
  CpuBackend be;
  for (auto [rows, vocab] : {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {13, 33}, {7, 130}}) {
    auto logits = random_tensor<double>({rows, vocab}, 5, 2.0);
    const auto targets = targets_with_ignored(rows, static_cast<int32_t>(vocab), 6);
    Owned<double> losses(Shape{rows}), lse(Shape{rows});
    const double scale = 1.0 / static_cast<double>(rows);
    const auto loss = [&] {
      be.cross_entropy_forward(logits, targets, losses, lse);
      double s = 0;
      for (double l : losses.data) s += l;
      return scale * s;
    };
    loss();
    auto dlogits = random_tensor<double>(logits.t.shape, 7);
    be.cross_entropy_backward(logits, lse, targets, scale, dlogits);
    for (size_t r = 1; r < targets.size(); r += 3)
      for (int64_t v = 0; v < vocab; ++v)
        EXPECT_EQ(dlogits[r * static_cast<size_t>(vocab) + static_cast<size_t>(v)], 0.0);
    check_gradient("cross_entropy dlogits", logits.data, dlogits.data, loss, 1e-7);
  }
}

// f32 backward against the f64 one on the same logits.
TEST(CrossEntropy, BackwardF32MatchesF64) {
  CpuBackend be;
  const int64_t rows = 13, vocab = 130;
  const auto l64 = random_tensor<double>({rows, vocab}, 8, 3.0, 20.0);
  Owned<float> l32(l64.t.shape);
  be.copy(l64, l32);
  const auto targets = targets_with_ignored(rows, vocab, 9);
  Owned<double> loss64(Shape{rows}), lse64(Shape{rows}), d64(l64.t.shape);
  Owned<float> loss32(Shape{rows}), lse32(Shape{rows}), d32(l64.t.shape);
  be.cross_entropy_forward(l64, targets, loss64, lse64);
  be.cross_entropy_forward(l32, targets, loss32, lse32);
  be.cross_entropy_backward(l64, lse64, targets, 0.5, d64);
  be.cross_entropy_backward(l32, lse32, targets, 0.5, d32);
  EXPECT_LE(rel_error(d32.data, d64.data), 1e-5);
}

// dlogits may be logits itself: the in-place result equals the out-of-place one bit for bit
// (33 x 1024 logits: the threaded path).
TEST(CrossEntropy, BackwardInPlace) {
  CpuBackend be;
  const int64_t rows = 33, vocab = 1024;
  auto logits = random_tensor<float>({rows, vocab}, 10, 3.0);
  const auto targets = targets_with_ignored(rows, vocab, 11);
  Owned<float> losses(Shape{rows}), lse(Shape{rows}), separate(logits.t.shape);
  be.cross_entropy_forward(logits, targets, losses, lse);
  be.cross_entropy_backward(logits, lse, targets, 0.25, separate);
  be.cross_entropy_backward(logits, lse, targets, 0.25, logits);
  for (size_t i = 0; i < logits.size(); ++i) ASSERT_EQ(logits[i], separate[i]) << "element " << i;
}

TEST(CrossEntropy, RefusesBadInput) {
  CpuBackend be;
  const auto logits = random_tensor<float>({2, 3, 7}, 1);
  auto targets = random_tokens({2, 3}, 7, 2);
  Owned<float> losses(Shape{6}), lse(Shape{2, 3}), dlogits(Shape{2, 3, 7});
  targets[2] = 7;
  expect_error([&] { be.cross_entropy_forward(logits, targets, losses, lse); },
               "cross_entropy_forward: target 7 at row 2 is not below the vocabulary size 7");
  expect_error([&] { be.cross_entropy_backward(logits, lse, targets, 1.0, dlogits); },
               "cross_entropy_backward: target 7 at row 2");
  targets[2] = 0;
  expect_error([&] { be.cross_entropy_forward(logits, targets, Owned<float>(Shape{5}), lse); },
               "losses [5] must hold one value per row of logits [2, 3, 7] (6 rows)");
  expect_error([&] { be.cross_entropy_forward(logits, random_tokens({5}, 7, 3), losses, lse); },
               "targets [5] must hold one value per row");
  expect_error(
      [&] {
        be.cross_entropy_backward(logits, lse, targets, 1.0, Owned<float>(Shape{6, 7}));
      },
      "dlogits has shape [6, 7] but logits has shape [2, 3, 7]");
  expect_error([&] { be.cross_entropy_forward(logits, Owned<float>(Shape{6}), losses, lse); },
               "targets must be i32");
  expect_error([&] { be.cross_entropy_forward(logits, targets, Owned<double>(Shape{6}), lse); },
               "mixed element types");
  expect_error(
      [&] {
        be.cross_entropy_forward(Owned<float>(Shape{6, 0}), targets, losses, lse);
      },
      "non-empty vocabulary dim");
}

}  // namespace
}  // namespace pha::test
