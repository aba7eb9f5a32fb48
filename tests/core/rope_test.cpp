// RoPE (half-split) on the CPU backend: the table against the formula and known values, the
// rotation against the spec's pair formula, inverse and in-place properties, backward against
// central finite differences in f64 (accumulating into a pre-filled gradient), f32 vs f64.
#include <fmt/format.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/cpu/cpu_backend.h"
#include "core/rope_table.h"
#include "tests/test_util.h"

namespace pha::test {
namespace {

template <typename T>
Owned<T> make_table(CpuBackend& cpu, int64_t t_max, int64_t d_h, double base = 10000.0) {
  Owned<T> table(rope_table_shape(t_max, d_h));
  rope_table_fill(cpu, table, base);
  return table;
}

TEST(RopeTable, MatchesFormulaAndKnownValues) {
  CpuBackend cpu;
  for (int64_t d_h : {2, 8, 16, 64}) {
    for (double base : {10000.0, 500.0}) {
      const int64_t t_max = 50, half = d_h / 2;
      const auto t64 = make_table<double>(cpu, t_max, d_h, base);
      const auto t32 = make_table<float>(cpu, t_max, d_h, base);
      for (int64_t p = 0; p < t_max; ++p)
        for (int64_t i = 0; i < half; ++i) {
          const double angle = static_cast<double>(p) * std::pow(base, -2.0 * i / d_h);
          const size_t at = static_cast<size_t>((p * half + i) * 2);
          EXPECT_NEAR(t64.data[at], std::cos(angle), 1e-15) << p << " " << i;
          EXPECT_NEAR(t64.data[at + 1], std::sin(angle), 1e-15) << p << " " << i;
          // f32: the double values, rounded once.
          EXPECT_EQ(t32.data[at], static_cast<float>(t64.data[at]));
          EXPECT_EQ(t32.data[at + 1], static_cast<float>(t64.data[at + 1]));
        }
    }
  }
  // d_h 4: theta = (1, 10000^(-1/2) = 0.01).
  const auto t = make_table<double>(cpu, 4, 4);
  EXPECT_NEAR(t.data[(3 * 2 + 0) * 2], std::cos(3.0), 1e-15);
  EXPECT_NEAR(t.data[(3 * 2 + 1) * 2], std::cos(0.03), 1e-15);
  EXPECT_NEAR(t.data[(3 * 2 + 1) * 2 + 1], std::sin(0.03), 1e-15);
  EXPECT_NEAR(t.data[(2 * 2 + 0) * 2 + 1], std::sin(2.0), 1e-15);
}

struct RopeCase {
  int64_t batch, seq, heads, d_h;
};

std::vector<RopeCase> rope_cases() {
  std::vector<RopeCase> c;
  for (int64_t seq : {1, 7, 33})
    for (int64_t d_h : {2, 8, 16}) c.push_back({2, seq, 3, d_h});
  c.push_back({4, 128, 4, 64});  // large enough for the multi-threaded path
  return c;
}

std::string name(const RopeCase& c) {
  return fmt::format("B{} T{} h{} d{}", c.batch, c.seq, c.heads, c.d_h);
}

TEST(Rope, ForwardMatchesPairFormula) {
  CpuBackend cpu;
  for (const RopeCase& c : rope_cases()) {
    const Shape s{c.batch, c.seq, c.heads, c.d_h};
    const int64_t half = c.d_h / 2;
    const auto table = make_table<double>(cpu, c.seq + 5, c.d_h);  // more rows than T
    auto x = random_tensor<double>(s, 1);
    Owned<double> y(s);
    cpu.rope_forward(x, table, y);
    for (int64_t b = 0; b < c.batch; ++b)
      for (int64_t p = 0; p < c.seq; ++p)
        for (int64_t h = 0; h < c.heads; ++h)
          for (int64_t i = 0; i < half; ++i) {
            const double angle = static_cast<double>(p) * std::pow(10000.0, -2.0 * i / c.d_h);
            const size_t at = static_cast<size_t>(((b * c.seq + p) * c.heads + h) * c.d_h + i);
            const double x1 = x[at], x2 = x[at + half];
            EXPECT_NEAR(y[at], x1 * std::cos(angle) - x2 * std::sin(angle), 1e-14) << name(c);
            EXPECT_NEAR(y[at + half], x1 * std::sin(angle) + x2 * std::cos(angle), 1e-14)
                << name(c);
            if (p == 0) {
              EXPECT_EQ(y[at], x1);  // position 0 is the identity
            }
          }
  }
}

TEST(Rope, BackwardIsTheInverseAndInPlaceForwardMatches) {
  CpuBackend cpu;
  for (const RopeCase& c : rope_cases()) {
    const Shape s{c.batch, c.seq, c.heads, c.d_h};
    const auto table = make_table<double>(cpu, c.seq, c.d_h);
    const auto x = random_tensor<double>(s, 2);
    Owned<double> y(s), back(s);
    cpu.rope_forward(x, table, y);
    cpu.fill(back, 0.0);
    cpu.rope_backward(y, table, back);  // R^T R x = x: the rotation is orthogonal
    EXPECT_LT(rel_error(back.data, x.data), 1e-14) << name(c);
    auto inplace = x;
    cpu.rope_forward(inplace, table, inplace);
    EXPECT_EQ(inplace.data, y.data) << name(c);
  }
}

TEST(Rope, BackwardMatchesFiniteDifferences) {
  CpuBackend cpu;
  for (const RopeCase& c : rope_cases()) {
    const Shape s{c.batch, c.seq, c.heads, c.d_h};
    const auto table = make_table<double>(cpu, c.seq + 3, c.d_h);
    auto x = random_tensor<double>(s, 3);
    const auto probe = random_tensor<double>(s, 4);
    const auto dx0 = random_tensor<double>(s, 5);
    auto dx = dx0;
    cpu.rope_backward(probe, table, dx);
    std::vector<double> added(dx.size());
    for (size_t i = 0; i < added.size(); ++i) added[i] = dx[i] - dx0.data[i];
    auto loss = [&] {
      Owned<double> y(s);
      cpu.rope_forward(x, table, y);
      return probe_loss(y.data, probe.data);
    };
    check_gradient(("rope dx " + name(c)).c_str(), x.data, added, loss, 1e-6, 1e-6,
                   s.numel() > 10000 ? 40 : 400);
  }
}

template <typename T>
std::vector<std::vector<double>> run_rope(const Shape& s) {
  CpuBackend cpu;
  const auto table = make_table<T>(cpu, s[1], s[3]);
  auto x = random_tensor<T>(s, 6);
  auto dy = random_tensor<T>(s, 7);
  Owned<T> y(s), dx(s);
  cpu.rope_forward(x, table, y);
  cpu.fill(dx, 0.0);
  cpu.rope_backward(dy, table, dx);
  return {{y.data.begin(), y.data.end()}, {dx.data.begin(), dx.data.end()}};
}

TEST(Rope, Float32MatchesFloat64) {
  const Shape s{2, 300, 4, 64};  // positions up to 299: large angles, f32 tables stay accurate
  const auto f = run_rope<float>(s), d = run_rope<double>(s);
  const char* names[] = {"y", "dx"};
  for (size_t i = 0; i < 2; ++i) {
    const double err = rel_error(f[i], d[i]);
    std::printf("  f32 vs f64 rope %-3s rel error %.3e\n", names[i], err);
    EXPECT_LT(err, 1e-6) << names[i];
  }
}

TEST(Rope, BadShapesAreRefused) {
  CpuBackend cpu;
  expect_error([] { rope_table_shape(16, 7); }, "d_h = 7 must be even");
  const auto table = make_table<double>(cpu, 8, 4);
  Owned<double> odd({1, 4, 2, 5}), x({1, 9, 2, 4}), ok({1, 8, 2, 4}), wide({1, 8, 2, 6});
  Owned<float> ok32({1, 8, 2, 4});
  expect_error([&] { cpu.rope_forward(odd, table, odd); }, "d_h = 5 must be even");
  expect_error([&] { cpu.rope_forward(x, table, x); },
               "sequence length T = 9 exceeds the RoPE table's 8 rows");
  expect_error([&] { cpu.rope_forward(wide, table, wide); }, "expected [T_max, 3, 2]");
  expect_error([&] { cpu.rope_forward(ok32, table, ok32); }, "mixed element types");
  expect_error([&] { cpu.rope_backward(ok, table, ok); }, "dx and dy share memory");
  Owned<double> flat({8, 4});
  expect_error([&] { rope_table_fill(cpu, flat); }, "expected [T_max, d_h/2, 2]");
}

}  // namespace
}  // namespace pha::test
