// CpuBackend::matmul against a naive triple loop (every transpose, batched, alpha/beta), and
// linear_backward (built on matmul) against finite differences.
#include <cmath>
#include <limits>

#include "core/cpu/cpu_backend.h"
#include "tests/test_util.h"

namespace pha::test {
namespace {

// A stored operand's shape: [rows, cols], with a leading batch dim when batch > 0.
Shape stored(int64_t batch, int64_t rows, int64_t cols) {
  return batch > 0 ? Shape{batch, rows, cols} : Shape{rows, cols};
}

// alpha op(a) op(b) + beta c0 in double. a [Ba?, M|K, K|M], b [Bb?, K|N, N|K], c0 [Bc?, M, N].
// mag (when given) receives each element's sum of absolute terms, the scale of its rounding error.
template <typename T>
std::vector<double> naive_matmul(const Owned<T>& a, bool ta, const Owned<T>& b, bool tb,
                                 const Owned<T>& c0, double alpha, double beta,
                                 std::vector<double>* mag = nullptr) {
  const Shape& sc = c0.t.shape;
  const int64_t batches = sc.rank == 3 ? sc[0] : 1, M = sc[sc.rank - 2], N = sc[sc.rank - 1];
  const int64_t a_rows = a.t.dim(a.t.rank() - 2), a_cols = a.t.shape.last();
  const int64_t b_cols = b.t.shape.last(), K = ta ? a_rows : a_cols;
  const int64_t sa = a.t.rank() == 3 ? a.t.numel() / a.t.dim(0) : 0;
  const int64_t sb = b.t.rank() == 3 ? b.t.numel() / b.t.dim(0) : 0;
  std::vector<double> c(c0.size());
  if (mag) mag->assign(c0.size(), 0.0);
  for (int64_t p = 0; p < batches; ++p)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0, s_abs = 0;
        for (int64_t k = 0; k < K; ++k) {
          const double x = a.data[p * sa + (ta ? k * a_cols + i : i * a_cols + k)];
          const double y = b.data[p * sb + (tb ? j * b_cols + k : k * b_cols + j)];
          s += x * y;
          s_abs += std::abs(x * y);
        }
        const size_t at = static_cast<size_t>((p * M + i) * N + j);
        const double old = beta == 0 ? 0.0 : beta * c0.data[at];
        c[at] = alpha * s + old;
        if (mag) (*mag)[at] = std::abs(alpha) * s_abs + std::abs(old);
      }
  return c;
}

struct Case {
  int64_t batch_a, batch_b, M, K, N;  // batch 0: a 2-D operand
};

template <typename T>
void check_case(const Case& k, bool ta, bool tb, double alpha, double beta, double tol,
                uint64_t seed) {
  CpuBackend be;
  const int64_t batch_c = std::max(k.batch_a, k.batch_b);
  const auto a = random_tensor<T>(stored(k.batch_a, ta ? k.K : k.M, ta ? k.M : k.K), seed);
  const auto b = random_tensor<T>(stored(k.batch_b, tb ? k.N : k.K, tb ? k.K : k.N), seed + 1);
  auto c = random_tensor<T>(stored(batch_c, k.M, k.N), seed + 2);
  std::vector<double> mag;
  const auto expected = naive_matmul(a, ta, b, tb, c, alpha, beta, &mag);
  be.matmul(a, ta, b, tb, c, alpha, beta);
  double err = 0;  // the worst error relative to its element's scale
  for (size_t i = 0; i < c.size(); ++i) err = std::max(err, std::abs(c[i] - expected[i]) / mag[i]);
  EXPECT_LE(err, tol) << "batch " << k.batch_a << "/" << k.batch_b << " M " << k.M << " K " << k.K
                      << " N " << k.N << " trans " << ta << tb << " alpha " << alpha << " beta "
                      << beta;
}

template <typename T>
void check_all(const std::vector<Case>& cases, double tol) {
  uint64_t seed = 100;
  for (const Case& k : cases)
    for (int t = 0; t < 4; ++t)
      for (auto [alpha, beta] : {std::pair{1.0, 0.0}, {-0.7, 0.6}, {1.3, 1.0}})
        check_case<T>(k, t & 1, t & 2, alpha, beta, tol, seed += 3);
}

const std::vector<Case> kPlain = {
    {0, 0, 1, 1, 1}, {0, 0, 3, 7, 13}, {0, 0, 13, 1, 33}, {0, 0, 33, 13, 7}, {0, 0, 64, 33, 3}};
const std::vector<Case> kBatched = {{3, 3, 1, 7, 13},  {3, 3, 13, 3, 7}, {5, 0, 7, 13, 3},
                                    {5, 0, 1, 33, 7},  {0, 4, 7, 13, 3}, {0, 4, 33, 1, 13},
                                    {1, 1, 13, 7, 33}, {1, 0, 3, 3, 3}};

TEST(Matmul, TwoDAllTransposesF64) {
  check_all<double>(kPlain, 1e-14);
}
TEST(Matmul, TwoDAllTransposesF32) {
  check_all<float>(kPlain, 4e-6);
}
TEST(Matmul, BatchedAllTransposesF64) {
  check_all<double>(kBatched, 1e-14);
}
TEST(Matmul, BatchedAllTransposesF32) {
  check_all<float>(kBatched, 4e-6);
}

// beta = 0 means c is never read: NaNs already in c must not reach the result.
TEST(Matmul, BetaZeroOverwritesNaN) {
  CpuBackend be;
  for (const Case& k : {Case{0, 0, 7, 13, 3}, Case{3, 0, 7, 13, 3}, Case{0, 3, 7, 13, 3}}) {
    const int64_t batch_c = std::max(k.batch_a, k.batch_b);
    const auto a = random_tensor<float>(stored(k.batch_a, k.M, k.K), 1);
    const auto b = random_tensor<float>(stored(k.batch_b, k.K, k.N), 2);
    Owned<float> c(stored(batch_c, k.M, k.N));
    be.fill(c, std::numeric_limits<double>::quiet_NaN());
    const auto expected = naive_matmul(a, false, b, false, c, 1.0, 0.0);
    be.matmul(a, false, b, false, c, 1.0, 0.0);
    EXPECT_LE(rel_error(c.data, expected), 2e-6);
  }
}

// A c of 1 MiB and more takes beta = 0 as a zeroing pass and beta = 1 (cpu_matmul.cpp): NaN in c
// must still vanish, in the row blocks and in a batched c.
TEST(Matmul, LargeBetaZeroOverwritesNaN) {
  CpuBackend be;
  for (const Case& k : {Case{0, 0, 611, 5, 457}, Case{0, 0, 4099, 3, 65}, Case{2, 0, 523, 3, 509},
                        Case{0, 2, 523, 3, 509}}) {
    const int64_t batch_c = std::max(k.batch_a, k.batch_b);
    const auto a = random_tensor<float>(stored(k.batch_a, k.M, k.K), 1);
    const auto b = random_tensor<float>(stored(k.batch_b, k.K, k.N), 2);
    Owned<float> c(stored(batch_c, k.M, k.N));
    ASSERT_GE(c.t.bytes() / std::max<int64_t>(1, batch_c), size_t{1} << 20);
    be.fill(c, std::numeric_limits<double>::quiet_NaN());
    const auto expected = naive_matmul(a, false, b, false, c, 0.5, 0.0);
    be.matmul(a, false, b, false, c, 0.5, 0.0);
    EXPECT_LE(rel_error(c.data, expected), 2e-6);
  }
}

// K = 0: the product is empty, so c = beta c (and exactly 0 for beta = 0, even over NaN).
TEST(Matmul, EmptyInnerDimScalesC) {
  CpuBackend be;
  Owned<double> a(Shape{3, 7, 0}), b(Shape{0, 5});
  auto c = random_tensor<double>({3, 7, 5}, 3);
  const auto c0 = c.data;
  be.matmul(a, false, b, false, c, 1.0, 0.5);
  for (size_t i = 0; i < c.size(); ++i) EXPECT_EQ(c[i], 0.5 * c0[i]);
  be.fill(c, std::numeric_limits<double>::quiet_NaN());
  be.matmul(a, false, b, false, c, 1.0, 0.0);
  for (size_t i = 0; i < c.size(); ++i) EXPECT_EQ(c[i], 0.0);
}

// linear_backward uses matmul with both transposes and beta = 1: dx += dy w, dw += dy^T x.
TEST(Matmul, LinearBackwardMatchesFiniteDifferences) {
  CpuBackend be;
  for (auto [batch, time, in, out] :
       {std::array<int64_t, 4>{1, 1, 1, 1}, {3, 5, 7, 13}, {2, 13, 33, 3}}) {
    auto x = random_tensor<double>({batch, time, in}, 10);
    auto w = random_tensor<double>({out, in}, 11);
    const auto probe = random_tensor<double>({batch, time, out}, 12);
    Owned<double> y(Shape{batch, time, out});
    const auto loss = [&] {
      be.linear_forward(x, w, y);
      return probe_loss(y.data, probe.data);
    };
    auto dx = random_tensor<double>(x.t.shape, 13);
    auto dw = random_tensor<double>(w.t.shape, 14);
    const auto dx0 = dx.data, dw0 = dw.data;
    be.linear_backward(probe, x, w, dx, dw);
    std::vector<double> gx(dx.size()), gw(dw.size());
    for (size_t i = 0; i < gx.size(); ++i) gx[i] = dx[i] - dx0[i];
    for (size_t i = 0; i < gw.size(); ++i) gw[i] = dw[i] - dw0[i];
    // The loss is linear in each input, so a large step has no truncation error.
    check_gradient("linear dx", x.data, gx, loss, 1e-9, 1e-3);
    check_gradient("linear dw", w.data, gw, loss, 1e-9, 1e-3);
  }
}

// dx_beta = 0 overwrites dx (NaN before: never read) with dy w, and still adds to dw.
TEST(Matmul, LinearBackwardWithBetaZeroOverwritesDx) {
  CpuBackend be;
  const auto x = random_tensor<double>({3, 5, 7}, 20);
  const auto w = random_tensor<double>({13, 7}, 21);
  const auto dy = random_tensor<double>({3, 5, 13}, 22);
  Owned<double> dx(x.t.shape);
  be.fill(dx, std::numeric_limits<double>::quiet_NaN());
  auto dw = random_tensor<double>(w.t.shape, 23);
  auto dw_ref = dw;
  be.linear_backward(dy, x, w, dx, dw, 0.0);
  for (int64_t r = 0; r < 15; ++r)
    for (int64_t i = 0; i < 7; ++i) {
      double want = 0;
      for (int64_t o = 0; o < 13; ++o) want += dy.data[r * 13 + o] * w.data[o * 7 + i];
      EXPECT_NEAR(dx[r * 7 + i], want, 1e-12) << r << ", " << i;
    }
  be.linear_backward(dy, x, w, Tensor(), dw_ref);  // dw is the same with either dx_beta
  for (size_t i = 0; i < dw.size(); ++i) EXPECT_EQ(dw[i], dw_ref[i]);
}

TEST(Matmul, RefusesBadShapes) {
  CpuBackend be;
  const auto a = random_tensor<float>({3, 7}, 1);
  const auto b = random_tensor<float>({7, 5}, 2);
  auto c = random_tensor<float>({3, 5}, 3);
  expect_error([&] { be.matmul(a, true, b, false, c, 1.0, 0.0); }, "inner dims differ");
  expect_error(
      [&] {
        be.matmul(a, false, random_tensor<float>({7, 4}, 4), false, c, 1.0, 0.0);
      },
      "c must be [3, 4]");
  expect_error(
      [&] {
        be.matmul(a, false, random_tensor<double>({7, 5}, 4), false, c, 1.0, 0.0);
      },
      "mixed element types");
  expect_error([&] { be.matmul(random_tensor<float>({21}, 4), false, b, false, c, 1.0, 0.0); },
               "2-D or 3-D");
  expect_error(
      [&] {
        be.matmul(random_tensor<float>({2, 3, 7}, 4), false, random_tensor<float>({4, 7, 5}, 5),
                  false, random_tensor<float>({2, 3, 5}, 6), 1.0, 0.0);
      },
      "batch dims differ");
  expect_error(
      [&] {
        be.matmul(random_tensor<float>({2, 3, 7}, 4), false, b, false, c, 1.0, 0.0);
      },
      "a 2-D c needs 2-D a and b");
  expect_error(
      [&] {
        be.matmul(a, false, b, false, random_tensor<float>({2, 3, 5}, 6), 1.0, 0.0);
      },
      "a 3-D c needs a 3-D a or b");
  Owned<int32_t> ia(Shape{3, 7}), ib(Shape{7, 5}), ic(Shape{3, 5});
  expect_error([&] { be.matmul(ia, false, ib, false, ic, 1.0, 0.0); }, "computes in f32 or f64");
  auto square = random_tensor<float>({5, 5}, 7);
  expect_error(
      [&] {
        be.matmul(square, false, random_tensor<float>({5, 5}, 8), false, square, 1.0, 0.0);
      },
      "c overlaps an input");
  // The message names the op and every operand.
  expect_error([&] { be.matmul(a, true, b, false, c, 1.0, 0.0); },
               "matmul: a f32[3, 7] on cpu^T x b f32[7, 5] on cpu -> c f32[3, 5] on cpu");
}

}  // namespace
}  // namespace pha::test
