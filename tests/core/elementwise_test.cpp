// Elementwise ops against naive loops, their backwards against finite differences, and the
// reductions' double accumulation and thread-count independence.
#include <omp.h>

#include <cmath>

#include "core/cpu/cpu_backend.h"
#include "tests/test_util.h"

namespace pha::test {
namespace {

// Odd sizes, and one large enough for the threaded path.
const std::vector<Shape> kShapes = {Shape{1}, Shape{3, 7}, Shape{13, 33}, Shape{2, 3, 5},
                                    Shape{40, 1000}};

template <typename T>
void check_binary_ops(double tol) {
  CpuBackend be;
  for (const Shape& s : kShapes) {
    const auto a = random_tensor<T>(s, 1), b = random_tensor<T>(s, 2);
    const auto y0 = random_tensor<T>(s, 3);
    Owned<T> sum(s), prod(s), scaled(s);
    auto y = y0;
    be.add(a, b, sum);
    be.mul(a, b, prod);
    be.scale(a, -1.7, scaled);
    be.axpy(0.3, a, y);
    std::vector<double> e_sum(a.size()), e_prod(a.size()), e_scaled(a.size()), e_y(a.size());
    for (size_t i = 0; i < a.size(); ++i) {
      const double x = a.data[i], z = b.data[i];
      e_sum[i] = x + z;
      e_prod[i] = x * z;
      e_scaled[i] = -1.7 * x;
      e_y[i] = y0.data[i] + 0.3 * x;
    }
    EXPECT_LE(rel_error(sum.data, e_sum), tol) << "add " << s.str();
    EXPECT_LE(rel_error(prod.data, e_prod), tol) << "mul " << s.str();
    EXPECT_LE(rel_error(scaled.data, e_scaled), tol) << "scale " << s.str();
    EXPECT_LE(rel_error(y.data, e_y), tol) << "axpy " << s.str();
  }
}

TEST(Elementwise, ForwardOpsF64) {
  check_binary_ops<double>(1e-15);
}
TEST(Elementwise, ForwardOpsF32) {
  check_binary_ops<float>(1e-7);
}

// In place (out aliasing an input) is the ordinary elementwise contract.
TEST(Elementwise, AddInPlace) {
  CpuBackend be;
  auto a = random_tensor<float>({13, 33}, 1);
  const auto b = random_tensor<float>({13, 33}, 2), a0 = a;
  be.add(a, b, a);
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], a0.data[i] + b.data[i]);
}

// The probe loss is linear in each input, so a large step has no truncation error.
TEST(Elementwise, MulBackwardMatchesFiniteDifferences) {
  CpuBackend be;
  for (const Shape& s : {Shape{1}, Shape{3, 7}, Shape{13, 33}}) {
    auto a = random_tensor<double>(s, 4), b = random_tensor<double>(s, 5);
    const auto probe = random_tensor<double>(s, 6);
    Owned<double> out(s);
    const auto loss = [&] {
      be.mul(a, b, out);
      return probe_loss(out.data, probe.data);
    };
    Grad da(s, 7), db(s, 8);
    be.mul_backward(probe, a, b, da.buf, db.buf);
    check_gradient("mul da", a.data, da.added(), loss, 1e-9, 1e-3);
    check_gradient("mul db", b.data, db.added(), loss, 1e-9, 1e-3);
    Grad only_db(s, 8);  // an empty da: db alone, from the same start
    be.mul_backward(probe, a, b, Tensor(), only_db.buf);
    EXPECT_EQ(only_db.added(), db.added());
  }
}

TEST(Elementwise, ChannelFmaForward) {
  CpuBackend be;
  for (const Shape& s : kShapes) {
    const int64_t C = s.last();
    const auto x = random_tensor<float>(s, 1), c = random_tensor<float>(s, 2);
    const auto d = random_tensor<float>({C}, 3);
    Owned<float> y(s);
    be.channel_fma_forward(x, d, c, y);
    std::vector<double> expected(x.size());
    for (size_t i = 0; i < x.size(); ++i)
      expected[i] = double(c.data[i]) + double(x.data[i]) * d.data[i % static_cast<size_t>(C)];
    EXPECT_LE(rel_error(y.data, expected), 1e-7) << s.str();
    auto in_place = c;  // y aliasing c: the skip term added into the stream
    be.channel_fma_forward(x, d, in_place, in_place);
    EXPECT_EQ(in_place.data, y.data);
  }
}

TEST(Elementwise, ChannelFmaBackwardMatchesFiniteDifferences) {
  CpuBackend be;
  for (const Shape& s : {Shape{1}, Shape{3, 7}, Shape{3, 5, 13}, Shape{33, 40}}) {
    const int64_t C = s.last();
    auto x = random_tensor<double>(s, 10), c = random_tensor<double>(s, 11);
    auto d = random_tensor<double>({C}, 12);
    const auto probe = random_tensor<double>(s, 13);
    Owned<double> y(s);
    const auto loss = [&] {
      be.channel_fma_forward(x, d, c, y);
      return probe_loss(y.data, probe.data);
    };
    Grad dx(s, 14), dd({C}, 15), dc(s, 16);
    be.channel_fma_backward(probe, x, d, dx.buf, dd.buf, dc.buf);
    check_gradient("channel_fma dx", x.data, dx.added(), loss, 1e-9, 1e-3);
    check_gradient("channel_fma dd", d.data, dd.added(), loss, 1e-9, 1e-3);
    check_gradient("channel_fma dc", c.data, dc.added(), loss, 1e-9, 1e-3);
  }
}

// The threaded paths (40 x 1000) against a naive loop, on top of random gradient contents.
TEST(Elementwise, ChannelFmaBackwardLarge) {
  CpuBackend be;
  const int64_t rows = 40, C = 1000;
  const auto dy = random_tensor<float>({rows, C}, 17), x = random_tensor<float>({rows, C}, 18);
  const auto d = random_tensor<float>({C}, 19);
  const auto dx0 = random_tensor<float>({rows, C}, 20), dc0 = random_tensor<float>({rows, C}, 21);
  const auto dd0 = random_tensor<float>({C}, 22);
  auto dx = dx0, dc = dc0, dd = dd0;
  be.channel_fma_backward(dy, x, d, dx, dd, dc);
  std::vector<double> e_dx(dx.size()), e_dc(dc.size()), e_dd(dd0.data.begin(), dd0.data.end());
  for (size_t i = 0; i < dx.size(); ++i) {
    const size_t c = i % static_cast<size_t>(C);
    e_dx[i] = dx0.data[i] + double(dy.data[i]) * d.data[c];
    e_dc[i] = dc0.data[i] + double(dy.data[i]);
    e_dd[c] += double(dy.data[i]) * x.data[i];
  }
  EXPECT_LE(rel_error(dx.data, e_dx), 1e-7);
  EXPECT_LE(rel_error(dc.data, e_dc), 1e-7);
  EXPECT_LE(rel_error(dd.data, e_dd), 1e-7);
}

// 2^20 values near 0.1: a float running sum would be off by ~1e-3 relative.
TEST(Elementwise, SumsAccumulateInDouble) {
  CpuBackend be;
  for (const Shape& s : {Shape{1}, Shape{3, 7}, Shape{13, 33}, Shape{1 << 10, 1 << 10}}) {
    const auto x = random_tensor<float>(s, 1, 0.01, 0.1);
    double sum = 0, squares = 0;
    for (float v : x.data) {
      sum += v;
      squares += double(v) * v;
    }
    EXPECT_NEAR(be.sum(x), sum, 1e-12 * std::abs(sum)) << s.str();
    EXPECT_NEAR(be.sum_squares(x), squares, 1e-12 * squares) << s.str();
  }
}

TEST(Elementwise, SumRowsAccumulates) {
  CpuBackend be;
  for (const Shape& s : kShapes) {
    const int64_t C = s.last();
    const auto x = random_tensor<double>(s, 1);
    Grad out({C}, 2);
    be.sum_rows(x, out.buf);
    std::vector<double> expected(static_cast<size_t>(C), 0.0);
    for (size_t i = 0; i < x.size(); ++i) expected[i % static_cast<size_t>(C)] += x.data[i];
    EXPECT_LE(rel_error(out.added(), expected), 1e-13) << s.str();
  }
}

// Reductions partition by size, not by thread: one thread and several give the same bits.
TEST(Elementwise, ReductionsIndependentOfThreadCount) {
  CpuBackend be;
  const auto x = random_tensor<float>({1000, 77}, 3);
  const auto dy = random_tensor<float>({1000, 77}, 4);
  const auto d = random_tensor<float>({77}, 5);
  const int saved = omp_get_max_threads();
  std::vector<double> sums;
  std::vector<std::vector<float>> rows, dds;
  for (int threads : {1, 3}) {
    omp_set_num_threads(threads);
    sums.push_back(be.sum(x));
    Owned<float> r(Shape{77}), dd(Shape{77});
    be.sum_rows(x, r);
    be.channel_fma_backward(dy, x, d, Tensor(), dd, Tensor());
    rows.push_back(r.data);
    dds.push_back(dd.data);
  }
  omp_set_num_threads(saved);
  EXPECT_EQ(sums[0], sums[1]);
  EXPECT_EQ(rows[0], rows[1]);
  EXPECT_EQ(dds[0], dds[1]);
}

TEST(Elementwise, RefusesBadInput) {
  CpuBackend be;
  const auto a = random_tensor<float>({3, 7}, 1);
  Owned<float> out(Shape{3, 7});
  expect_error(
      [&] {
        be.add(a, random_tensor<float>({7, 3}, 2), out);
      },
      "add: b has shape [7, 3] but a has shape [3, 7]");
  expect_error([&] { be.mul(a, random_tensor<double>({3, 7}, 2), out); }, "mul: mixed element");
  expect_error([&] { be.mul_backward(a, a, a, Owned<float>(Shape{21}), Tensor()); },
               "mul_backward: da has shape [21]");
  expect_error([&] { be.axpy(1.0, a, Owned<float>(Shape{3, 8})); }, "axpy: y has shape [3, 8]");
  expect_error([&] { be.channel_fma_forward(a, Owned<float>(Shape{3}), a, out); },
               "channel_fma_forward: d has shape [3], expected [7]");
  expect_error(
      [&] {
        be.channel_fma_backward(a, a, Owned<float>(Shape{7}), Tensor(), Owned<float>(Shape{3}),
                                Tensor());
      },
      "channel_fma_backward: dd has shape [3], expected [7]");
  expect_error([&] { be.sum_rows(a, Owned<float>(Shape{3})); },
               "sum_rows: out has shape [3], expected [7]");
  expect_error([&] { be.sum(Owned<int32_t>(Shape{4})); }, "sum: the CPU backend computes in f32");
}

}  // namespace
}  // namespace pha::test
