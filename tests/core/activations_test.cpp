// GELU (tanh form) and row softmax on the CPU backend: forward against the formula, backward
// against central finite differences in f64 (accumulating into pre-filled gradients), f32 vs f64.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/fast_tanh.h"
#include "core/math/gelu.h"
#include "tests/test_util.h"

namespace pha::test {
namespace {

std::vector<Shape> shapes() {
  std::vector<Shape> s;
  for (int64_t rows : {1, 3, 7})
    for (int64_t c : {5, 13, 64}) s.push_back(Shape{rows, c});
  s.push_back(Shape{2, 3, 13});
  s.push_back(Shape{513, 64});  // large enough for the multi-threaded path
  return s;
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

// The spec's formula, written out independently of core/math/gelu.h.
double gelu_formula(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

TEST(Gelu, ForwardMatchesFormula) {
  CpuBackend cpu;
  // Known values of the tanh form (computed in Python).
  Owned<double> k({3}), ky({3});
  k[0] = 1.0, k[1] = -0.5, k[2] = 3.0;
  cpu.gelu_forward(k, ky);
  EXPECT_NEAR(ky[0], 0.8411919906082768, 1e-15);
  EXPECT_NEAR(ky[1], -0.15428599017485606, 1e-15);
  EXPECT_NEAR(ky[2], 2.996362607918227, 1e-15);
  for (const Shape& s : shapes()) {
    auto x = random_tensor<double>(s, 1, 2.0);
    Owned<double> y(s);
    cpu.gelu_forward(x, y);
    for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(y[i], gelu_formula(x[i]), 1e-14);
    cpu.gelu_forward(x, x);  // in place
    EXPECT_EQ(x.data, y.data) << s.str();
  }
}

TEST(Gelu, BackwardMatchesFiniteDifferences) {
  CpuBackend cpu;
  for (const Shape& s : shapes()) {
    auto x = random_tensor<double>(s, 2, 2.0);
    const auto probe = random_tensor<double>(s, 3);
    const auto dx0 = random_tensor<double>(s, 4);
    auto dx = dx0;
    cpu.gelu_backward(x, probe, dx);
    auto loss = [&] {
      Owned<double> y(s);
      cpu.gelu_forward(x, y);
      return probe_loss(y.data, probe.data);
    };
    check_gradient(("gelu dx " + s.str()).c_str(), x.data, minus(dx.data, dx0.data), loss, 1e-6,
                   1e-6, fd_points(s));
  }
}

TEST(Softmax, ForwardMatchesFormula) {
  CpuBackend cpu;
  for (const Shape& s : shapes()) {
    const int64_t rows = s.rows(), c = s.last();
    auto x = random_tensor<double>(s, 5, 3.0);
    Owned<double> y(s);
    cpu.softmax_forward(x, y);
    for (int64_t r = 0; r < rows; ++r) {
      double z = 0, total = 0;
      for (int64_t j = 0; j < c; ++j) z += std::exp(x[r * c + j]);
      for (int64_t j = 0; j < c; ++j) {
        const double want = std::exp(x[r * c + j]) / z;
        EXPECT_NEAR(y[r * c + j], want, 1e-13 * want) << s.str();
        total += y[r * c + j];
      }
      EXPECT_NEAR(total, 1.0, 1e-14);
    }
    // Shift-invariant and overflow-free: x + 1000 would overflow a naive exp.
    auto shifted = x;
    for (auto& v : shifted.data) v += 1000;
    Owned<double> y2(s);
    cpu.softmax_forward(shifted, y2);
    EXPECT_LT(rel_error(y2.data, y.data), 1e-12) << s.str();
    cpu.softmax_forward(x, x);  // in place
    EXPECT_EQ(x.data, y.data) << s.str();
  }
}

TEST(Softmax, BackwardMatchesFiniteDifferences) {
  CpuBackend cpu;
  for (const Shape& s : shapes()) {
    auto x = random_tensor<double>(s, 6, 2.0);
    const auto probe = random_tensor<double>(s, 7);
    Owned<double> y(s);
    cpu.softmax_forward(x, y);
    const auto dx0 = random_tensor<double>(s, 8);
    auto dx = dx0;
    cpu.softmax_backward(y, probe, dx);
    auto loss = [&] {
      Owned<double> y2(s);
      cpu.softmax_forward(x, y2);
      return probe_loss(y2.data, probe.data);
    };
    check_gradient(("softmax dx " + s.str()).c_str(), x.data, minus(dx.data, dx0.data), loss, 1e-6,
                   1e-6, fd_points(s));
  }
}

template <typename T>
std::vector<std::vector<double>> run_activations(const Shape& s) {
  CpuBackend cpu;
  auto x = random_tensor<T>(s, 9, 2.0);
  auto dy = random_tensor<T>(s, 10);
  Owned<T> gy(s), gdx(s), sy(s), sdx(s);
  cpu.gelu_forward(x, gy);
  cpu.gelu_backward(x, dy, gdx);
  cpu.softmax_forward(x, sy);
  cpu.softmax_backward(sy, dy, sdx);
  std::vector<std::vector<double>> all;
  for (const Owned<T>* o : {&gy, &gdx, &sy, &sdx}) all.emplace_back(o->data.begin(), o->data.end());
  return all;
}

TEST(Activations, Float32MatchesFloat64) {
  const char* names[] = {"gelu y", "gelu dx", "softmax y", "softmax dx"};
  const Shape s{600, 64};
  const auto f = run_activations<float>(s), d = run_activations<double>(s);
  for (size_t i = 0; i < f.size(); ++i) {
    const double err = rel_error(f[i], d[i]);
    std::printf("  f32 vs f64 %-10s rel error %.3e\n", names[i], err);
    EXPECT_LT(err, 1e-6) << names[i];
  }
}

// The f32 GELU's tanh (core/cpu/fast_tanh.h) against std::tanh in double over a dense sweep of
// [-10, 10] (step 2^-14, every f32 there is within half a step of a point) and tiny inputs.
TEST(TanhRational, ErrorBoundOverDenseSweep) {
  double max_abs = 0, max_rel = 0;
  auto check = [&](float x) {
    const double want = std::tanh(static_cast<double>(x));
    const double err = std::abs(static_cast<double>(tanh_rational(x)) - want);
    max_abs = std::max(max_abs, err);
    if (want != 0) max_rel = std::max(max_rel, err / std::abs(want));
  };
  for (int64_t i = -10 * 16384; i <= 10 * 16384; ++i) check(static_cast<float>(i) / 16384.0f);
  for (float x = 1e-30f; x < 1e-3f; x *= 1.37f) {
    check(x);
    check(-x);
  }
  for (float x : {20.0f, -20.0f, 1e30f, -1e30f}) check(x);
  std::printf("  tanh_rational: max abs error %.3e, max rel error %.3e\n", max_abs, max_rel);
  EXPECT_LT(max_abs, 3e-7);
  EXPECT_LT(max_rel, 3e-7);
}

// The f32 GELU and its derivative against the f64 formula over a dense sweep of [-10, 10]. 1 + tanh
// cancels for negative x, so the error scale is |want| + |x| 2^-24 (one f32 rounding of the tanh
// next to 1, times the 0.5 x in front). tanh_rational's 3e-7 absolute error (above) gives at most
// 0.5 |x| 3e-7 = 2.5 units of that scale; the bound is 3. glibc's tanhf in place of tanh_rational
// (gelu_value<float>) is printed beside it.
TEST(Gelu, Float32DenseSweepMatchesFormula) {
  CpuBackend cpu;
  const int64_t n = 20 * 4096 + 1;
  Owned<float> x({n}), y({n}), dy({n}), dx({n});
  for (int64_t i = 0; i < n; ++i) {
    x.data[i] = -10.0f + static_cast<float>(i) / 4096.0f;
    dy.data[i] = 1.0f;
  }
  cpu.gelu_forward(x, y);
  cpu.gelu_backward(x, dy, dx);
  double worst[4] = {0, 0, 0, 0};  // y, dx of the kernel; y, dx with glibc's tanhf
  for (int64_t i = 0; i < n; ++i) {
    const float xf = x.data[i];
    const double xi = xf, h = 1e-6, ulp_scale = std::abs(xi) * 0x1p-24;
    const double want_y = gelu_formula(xi);
    const double want_dx = (gelu_formula(xi + h) - gelu_formula(xi - h)) / (2 * h);
    const double got[4] = {y.data[i], dx.data[i], gelu_value(xf), gelu_grad(xf)};
    for (int k = 0; k < 4; ++k) {
      const double want = k % 2 == 0 ? want_y : want_dx;
      worst[k] = std::max(worst[k], std::abs(got[k] - want) / (std::abs(want) + ulp_scale));
    }
  }
  std::printf(
      "  f32 gelu, worst error / (|want| + |x| 2^-24): y %.3e, dx %.3e; with glibc tanhf: y "
      "%.3e, dx %.3e\n",
      worst[0], worst[1], worst[2], worst[3]);
  EXPECT_LT(worst[0], 3.0);
  EXPECT_LT(worst[1], 3.0);
}

TEST(Activations, BadShapesAreRefused) {
  CpuBackend cpu;
  Owned<double> x({3, 8}), y({3, 7}), dx({3, 8});
  Owned<float> x32({3, 8});
  expect_error([&] { cpu.gelu_forward(x, y); }, "gelu_forward: y has shape [3, 7]");
  expect_error([&] { cpu.gelu_backward(x, x, y); }, "dx has shape [3, 7]");
  expect_error([&] { cpu.gelu_forward(x, x32); }, "mixed element types");
  expect_error([&] { cpu.softmax_forward(x, y); }, "softmax_forward: y has shape [3, 7]");
  expect_error([&] { cpu.softmax_backward(x, y, dx); }, "dy has shape [3, 7]");
  Owned<double> empty_rows({3, 0});
  expect_error([&] { cpu.softmax_forward(empty_rows, empty_rows); }, "expected [..., C > 0]");
}

}  // namespace
}  // namespace pha::test
