// RMSNorm and LayerNorm on the CPU backend: forward against the formula, backward against central
// finite differences in f64 (accumulating into pre-filled gradients), f32 against f64, bad shapes.
#include <omp.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/cpu/cpu_backend.h"
#include "tests/test_util.h"

namespace pha::test {
namespace {

constexpr double kEps = 1e-5;

// x shapes: rows 1, 3, 7 times C 5, 13, 64, one 3-D tensor ([2, 3] rows of 13), and one large
// enough for the multi-threaded path.
std::vector<Shape> norm_shapes() {
  std::vector<Shape> shapes;
  for (int64_t rows : {1, 3, 7})
    for (int64_t c : {5, 13, 64}) shapes.push_back(Shape{rows, c});
  shapes.push_back(Shape{2, 3, 13});
  shapes.push_back(Shape{513, 64});
  return shapes;
}

Shape stat_shape(const Shape& x) {
  return Shape{x.rows()};
}

// Finite differences cost two forwards a point: fewer points on the large shape.
size_t fd_points(const Shape& s) {
  return s.numel() > 10000 ? 40 : 400;
}

std::vector<double> minus(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  return d;
}

TEST(RmsNorm, ForwardMatchesFormula) {
  CpuBackend cpu;
  for (const Shape& s : norm_shapes()) {
    const int64_t rows = s.rows(), c = s.last();
    auto x = random_tensor<double>(s, 1);
    auto g = random_tensor<double>({c}, 2, 0.5, 1.0);
    Owned<double> y(s), rstd(stat_shape(s));
    cpu.rmsnorm_forward(x, g, y, rstd, kEps);
    for (int64_t r = 0; r < rows; ++r) {
      double ms = 0;
      for (int64_t j = 0; j < c; ++j) ms += x[r * c + j] * x[r * c + j] / c;
      const double want_r = 1 / std::sqrt(ms + kEps);
      EXPECT_NEAR(rstd[r], want_r, 1e-13 * want_r) << s.str();
      for (int64_t j = 0; j < c; ++j)
        EXPECT_NEAR(y[r * c + j], x[r * c + j] * want_r * g[j], 1e-13) << s.str() << " " << j;
    }
  }
}

TEST(RmsNorm, BackwardMatchesFiniteDifferences) {
  CpuBackend cpu;
  for (const Shape& s : norm_shapes()) {
    const int64_t c = s.last();
    auto x = random_tensor<double>(s, 3);
    auto g = random_tensor<double>({c}, 4, 0.5, 1.0);
    const auto probe = random_tensor<double>(s, 5);
    Owned<double> y(s), rstd(stat_shape(s));
    cpu.rmsnorm_forward(x, g, y, rstd, kEps);
    // Pre-filled gradients: the op must add to them.
    const auto dx0 = random_tensor<double>(s, 6), dg0 = random_tensor<double>({c}, 7);
    auto dx = dx0, dg = dg0;
    cpu.rmsnorm_backward(probe, x, g, rstd, dx, dg);
    auto loss = [&] {
      Owned<double> y2(s), r2(stat_shape(s));
      cpu.rmsnorm_forward(x, g, y2, r2, kEps);
      return probe_loss(y2.data, probe.data);
    };
    check_gradient(("rmsnorm dx " + s.str()).c_str(), x.data, minus(dx.data, dx0.data), loss, 1e-6,
                   1e-6, fd_points(s));
    check_gradient(("rmsnorm dg " + s.str()).c_str(), g.data, minus(dg.data, dg0.data), loss, 1e-6,
                   1e-6, fd_points(s));
  }
}

TEST(LayerNorm, ForwardMatchesFormula) {
  CpuBackend cpu;
  for (const Shape& s : norm_shapes()) {
    const int64_t rows = s.rows(), c = s.last();
    auto x = random_tensor<double>(s, 11, 2.0, 3.0);  // off-centre: the mean matters
    auto gamma = random_tensor<double>({c}, 12, 0.5, 1.0);
    auto beta = random_tensor<double>({c}, 13);
    Owned<double> y(s), mean(stat_shape(s)), rstd(stat_shape(s));
    cpu.layernorm_forward(x, gamma, beta, y, mean, rstd, kEps);
    for (int64_t r = 0; r < rows; ++r) {
      double m = 0, var = 0;
      for (int64_t j = 0; j < c; ++j) m += x[r * c + j] / c;
      for (int64_t j = 0; j < c; ++j) var += (x[r * c + j] - m) * (x[r * c + j] - m) / c;
      const double want_r = 1 / std::sqrt(var + kEps);
      EXPECT_NEAR(mean[r], m, 1e-13) << s.str();
      EXPECT_NEAR(rstd[r], want_r, 1e-12 * want_r) << s.str();
      for (int64_t j = 0; j < c; ++j)
        EXPECT_NEAR(y[r * c + j], (x[r * c + j] - m) * want_r * gamma[j] + beta[j], 1e-12)
            << s.str() << " " << j;
    }
  }
}

TEST(LayerNorm, BackwardMatchesFiniteDifferences) {
  CpuBackend cpu;
  for (const Shape& s : norm_shapes()) {
    const int64_t c = s.last();
    auto x = random_tensor<double>(s, 14, 2.0, 3.0);
    auto gamma = random_tensor<double>({c}, 15, 0.5, 1.0);
    auto beta = random_tensor<double>({c}, 16);
    const auto probe = random_tensor<double>(s, 17);
    Owned<double> y(s), mean(stat_shape(s)), rstd(stat_shape(s));
    cpu.layernorm_forward(x, gamma, beta, y, mean, rstd, kEps);
    const auto dx0 = random_tensor<double>(s, 18);
    const auto dgamma0 = random_tensor<double>({c}, 19), dbeta0 = random_tensor<double>({c}, 20);
    auto dx = dx0, dgamma = dgamma0, dbeta = dbeta0;
    cpu.layernorm_backward(probe, x, gamma, mean, rstd, dx, dgamma, dbeta);
    auto loss = [&] {
      Owned<double> y2(s), m2(stat_shape(s)), r2(stat_shape(s));
      cpu.layernorm_forward(x, gamma, beta, y2, m2, r2, kEps);
      return probe_loss(y2.data, probe.data);
    };
    check_gradient(("layernorm dx " + s.str()).c_str(), x.data, minus(dx.data, dx0.data), loss,
                   1e-6, 1e-6, fd_points(s));
    check_gradient(("layernorm dgamma " + s.str()).c_str(), gamma.data,
                   minus(dgamma.data, dgamma0.data), loss, 1e-6, 1e-6, fd_points(s));
    check_gradient(("layernorm dbeta " + s.str()).c_str(), beta.data,
                   minus(dbeta.data, dbeta0.data), loss, 1e-6, 1e-6, fd_points(s));
  }
}

// Runs forward and backward in f32 and f64 on the same (f32-representable) values.
template <typename T>
std::vector<std::vector<double>> run_both_norms(const Shape& s) {
  CpuBackend cpu;
  const int64_t c = s.last();
  auto x = random_tensor<T>(s, 21, 2.0, 1.0);
  auto g = random_tensor<T>({c}, 22, 0.5, 1.0);
  auto beta = random_tensor<T>({c}, 23);
  auto dy = random_tensor<T>(s, 24);
  Owned<T> y(s), ry(s), rstd(stat_shape(s)), mean(stat_shape(s)), lrstd(stat_shape(s));
  Owned<T> dx(s), dg({c}), ldx(s), ldg({c}), ldb({c});
  cpu.rmsnorm_forward(x, g, ry, rstd, kEps);
  cpu.rmsnorm_backward(dy, x, g, rstd, dx, dg);
  cpu.layernorm_forward(x, g, beta, y, mean, lrstd, kEps);
  cpu.layernorm_backward(dy, x, g, mean, lrstd, ldx, ldg, ldb);
  std::vector<std::vector<double>> all;
  for (const Owned<T>* o : {&ry, &dx, &dg, &y, &ldx, &ldg, &ldb})
    all.emplace_back(o->data.begin(), o->data.end());
  return all;
}

TEST(Norms, Float32MatchesFloat64) {
  const char* names[] = {"rms y", "rms dx", "rms dg", "ln y", "ln dx", "ln dgamma", "ln dbeta"};
  for (const Shape& s : {Shape{7, 64}, Shape{3000, 13}}) {
    const auto f = run_both_norms<float>(s), d = run_both_norms<double>(s);
    for (size_t i = 0; i < f.size(); ++i) {
      const double err = rel_error(f[i], d[i]);
      std::printf("  f32 vs f64 %-10s %-10s rel error %.3e\n", names[i], s.str().c_str(), err);
      EXPECT_LT(err, 2e-6) << names[i] << " " << s.str();
    }
  }
}

// Parameter gradients are reduced in fixed row chunks: one thread gives the same bits.
TEST(Norms, ResultsDoNotDependOnThreadCount) {
  const Shape s{3000, 13};  // above the size where the ops go multi-threaded
  const auto many = run_both_norms<float>(s);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto one = run_both_norms<float>(s);
  omp_set_num_threads(threads);
  EXPECT_TRUE(one == many);
}

// Many rows: the chunked, thread-count-independent reduction of dg must still add every row.
TEST(RmsNorm, GainGradientSumsManyRows) {
  CpuBackend cpu;
  const int64_t rows = 20000;
  const Shape s{rows, 3};
  auto x = random_tensor<double>(s, 31);
  Owned<double> g({3}), y(s), rstd({rows}), dy(s), dx(s), dg({3});
  cpu.fill(g, 1.0);
  cpu.fill(dy, 1.0);
  cpu.rmsnorm_forward(x, g, y, rstd, kEps);
  cpu.rmsnorm_backward(dy, x, g, rstd, dx, dg);
  for (int64_t j = 0; j < 3; ++j) {
    double want = 0;
    for (int64_t r = 0; r < rows; ++r) want += y[r * 3 + j];  // dy = 1, g = 1: dg_j = sum y_j
    EXPECT_NEAR(dg[j], want, 1e-10 * std::abs(want) + 1e-12);
  }
}

TEST(Norms, BadShapesAreRefused) {
  CpuBackend cpu;
  Owned<double> x({3, 8}), y({3, 8}), g7({7}), g8({8}), rstd({3}), rstd4({4}), mean({3});
  Owned<float> y32({3, 8});
  expect_error([&] { cpu.rmsnorm_forward(x, g7, y, rstd, kEps); }, "g has shape [7], expected [8]");
  expect_error([&] { cpu.rmsnorm_forward(x, g8, y, rstd4, kEps); }, "one value per row");
  expect_error([&] { cpu.rmsnorm_forward(x, g8, y32, rstd, kEps); }, "mixed element types");
  expect_error([&] { cpu.rmsnorm_backward(y, x, g8, rstd, x, g7); }, "dg has shape [7]");
  expect_error([&] { cpu.layernorm_forward(x, g8, g7, y, mean, rstd, kEps); },
               "beta has shape [7], expected [8]");
  expect_error([&] { cpu.layernorm_backward(x, x, g8, mean, rstd4, y, g8, g8); },
               "rstd has shape [4]");
}

}  // namespace
}  // namespace pha::test
