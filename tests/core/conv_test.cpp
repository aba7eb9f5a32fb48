// The causal long convolution: FFT against the direct O(T^2) sum, the direct sum against a naive
// loop, both backwards against central finite differences in double, += semantics, causality,
// scratch reuse and shape errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "core/cpu/cpu_backend.h"
#include "tests/test_util.h"

namespace pha::test {
namespace {

template <typename T>
Owned<T> convert(const Owned<double>& src) {
  Owned<T> out(src.t.shape);
  for (size_t i = 0; i < src.size(); ++i) out[i] = static_cast<T>(src.data[i]);
  return out;
}

struct Dims {
  int64_t b, t, h;
};

// y[b, t, h] = sum_{s <= t} K[t - s, h] u[b, s, h], written as plainly as possible.
std::vector<double> naive_conv(const Dims& d, const std::vector<double>& u,
                               const std::vector<double>& k) {
  std::vector<double> y(static_cast<size_t>(d.b * d.t * d.h), 0.0);
  for (int64_t b = 0; b < d.b; ++b)
    for (int64_t t = 0; t < d.t; ++t)
      for (int64_t h = 0; h < d.h; ++h) {
        double s = 0;
        for (int64_t j = 0; j <= t; ++j) s += k[j * d.h + h] * u[(b * d.t + t - j) * d.h + h];
        y[(b * d.t + t) * d.h + h] = s;
      }
  return y;
}

struct Inputs {
  Owned<double> u, k, dy;
  explicit Inputs(const Dims& d, uint64_t seed)
      : u(random_tensor<double>({d.b, d.t, d.h}, seed)),
        k(random_tensor<double>({d.t, d.h}, seed + 1)),
        dy(random_tensor<double>({d.b, d.t, d.h}, seed + 2)) {}
};

template <typename T>
std::vector<T> conv(CpuBackend& be, const Owned<T>& u, const Owned<T>& k, ConvAlgo algo) {
  Owned<T> y(u.t.shape);
  be.causal_conv_forward(u, k, y, algo);
  return y.data;
}

const char* algo_name(ConvAlgo a) {
  return a == ConvAlgo::fft ? "fft" : "direct";
}

TEST(CausalConv, FftMatchesDirect) {
  CpuBackend be;
  double worst32 = 0, worst64 = 0;
  for (int64_t t : {1, 7, 64, 1000}) {
    for (Dims d : {Dims{1, t, 1}, Dims{3, t, 5}, Dims{2, t, 33}, Dims{1, t, 70}}) {
      Inputs in(d, 100 + static_cast<uint64_t>(t * d.h));
      const double e64 =
          rel_error(conv(be, in.u, in.k, ConvAlgo::fft), conv(be, in.u, in.k, ConvAlgo::direct));
      const auto u32 = convert<float>(in.u), k32 = convert<float>(in.k);
      const double e32 =
          rel_error(conv(be, u32, k32, ConvAlgo::fft), conv(be, u32, k32, ConvAlgo::direct));
      EXPECT_LE(e64, 1e-12) << "B " << d.b << " T " << t << " H " << d.h;
      EXPECT_LE(e32, 1e-5) << "B " << d.b << " T " << t << " H " << d.h;
      worst64 = std::max(worst64, e64);
      worst32 = std::max(worst32, e32);
    }
  }
  std::printf("  fft vs direct: worst rel error f64 %.3e (tol 1e-12), f32 %.3e (tol 1e-5)\n",
              worst64, worst32);
}

TEST(CausalConv, DirectMatchesNaiveLoop) {
  CpuBackend be;
  for (Dims d : {Dims{1, 1, 1}, Dims{3, 17, 5}, Dims{2, 64, 9}}) {
    Inputs in(d, 7);
    const double err =
        rel_error(conv(be, in.u, in.k, ConvAlgo::direct), naive_conv(d, in.u.data, in.k.data));
    std::printf("  direct vs naive B %ld T %ld H %ld: rel error %.3e (tol 1e-14)\n", d.b, d.t, d.h,
                err);
    EXPECT_LE(err, 1e-14);
  }
}

TEST(CausalConv, BackwardMatchesFiniteDifferences) {
  CpuBackend be;
  for (ConvAlgo algo : {ConvAlgo::fft, ConvAlgo::direct}) {
    for (Dims d : {Dims{3, 7, 5}, Dims{2, 41, 37}}) {
      std::printf(" %s B %ld T %ld H %ld\n", algo_name(algo), d.b, d.t, d.h);
      Inputs in(d, 21);
      Owned<double> du(in.u.t.shape), dk(in.k.t.shape);
      be.causal_conv_backward(in.dy, in.u, in.k, du, dk, algo);
      auto loss = [&] { return probe_loss(conv(be, in.u, in.k, algo), in.dy.data); };
      // The loss is linear in each input, so a large step has no truncation error and keeps
      // the rounding error of the difference small.
      check_gradient("du", in.u.data, du.data, loss, 1e-10, 1e-2);
      check_gradient("dkernel", in.k.data, dk.data, loss, 1e-10, 1e-2);
    }
  }
}

TEST(CausalConv, BackwardAccumulatesAndSkipsEmptyOutputs) {
  CpuBackend be;
  const Dims d{3, 50, 37};
  Inputs in(d, 5);
  for (ConvAlgo algo : {ConvAlgo::fft, ConvAlgo::direct}) {
    Owned<double> du(in.u.t.shape), dk(in.k.t.shape);
    be.causal_conv_backward(in.dy, in.u, in.k, du, dk, algo);
    auto du_acc = random_tensor<double>(in.u.t.shape, 8),
         dk_acc = random_tensor<double>(in.k.t.shape, 9);
    const auto du0 = du_acc.data, dk0 = dk_acc.data;
    be.causal_conv_backward(in.dy, in.u, in.k, du_acc, dk_acc, algo);
    for (size_t i = 0; i < du0.size(); ++i) du_acc[i] -= du0[i];
    for (size_t i = 0; i < dk0.size(); ++i) dk_acc[i] -= dk0[i];
    const double e_du = rel_error(du_acc.data, du.data), e_dk = rel_error(dk_acc.data, dk.data);
    std::printf("  %s += : du rel error %.3e, dkernel %.3e (tol 1e-13)\n", algo_name(algo), e_du,
                e_dk);
    EXPECT_LE(e_du, 1e-13);
    EXPECT_LE(e_dk, 1e-13);
    // One output at a time gives the same values.
    Owned<double> du_only(in.u.t.shape), dk_only(in.k.t.shape);
    be.causal_conv_backward(in.dy, in.u, in.k, du_only, Tensor{}, algo);
    be.causal_conv_backward(in.dy, in.u, in.k, Tensor{}, dk_only, algo);
    EXPECT_EQ(du_only.data, du.data);
    EXPECT_EQ(dk_only.data, dk.data);
  }
}

TEST(CausalConv, Float32MatchesFloat64) {
  CpuBackend be;
  const Dims d{2, 300, 40};
  Inputs in(d, 31);
  const auto u32 = convert<float>(in.u), k32 = convert<float>(in.k), dy32 = convert<float>(in.dy);
  for (ConvAlgo algo : {ConvAlgo::fft, ConvAlgo::direct}) {
    Owned<double> du(in.u.t.shape), dk(in.k.t.shape);
    Owned<float> du32(in.u.t.shape), dk32(in.k.t.shape);
    be.causal_conv_backward(in.dy, in.u, in.k, du, dk, algo);
    be.causal_conv_backward(dy32, u32, k32, du32, dk32, algo);
    const double ey = rel_error(conv(be, u32, k32, algo), conv(be, in.u, in.k, algo));
    const double edu = rel_error(du32.data, du.data), edk = rel_error(dk32.data, dk.data);
    std::printf("  %s f32 vs f64: y %.3e, du %.3e, dkernel %.3e (tol 1e-5)\n", algo_name(algo), ey,
                edu, edk);
    EXPECT_LE(ey, 1e-5);
    EXPECT_LE(edu, 1e-5);
    EXPECT_LE(edk, 1e-5);
  }
}

// Changing u at time t0 leaves y before t0 bit-identical with the direct sum, and within
// rounding with the FFT.
template <typename T>
void check_causality(CpuBackend& be, ConvAlgo algo, double tol) {
  const Dims d{2, 97, 6};
  const int64_t t0 = 40;
  Inputs in(d, 77);
  const auto u = convert<T>(in.u), k = convert<T>(in.k);
  auto changed = u;
  for (int64_t b = 0; b < d.b; ++b)
    for (int64_t h = 0; h < d.h; ++h)
      changed[static_cast<size_t>((b * d.t + t0) * d.h + h)] += T(3);
  const auto y0 = conv(be, u, k, algo), y1 = conv(be, changed, k, algo);
  double worst = 0, scale = 0;
  for (int64_t b = 0; b < d.b; ++b) {
    for (int64_t t = 0; t < d.t; ++t) {
      for (int64_t h = 0; h < d.h; ++h) {
        const size_t i = static_cast<size_t>((b * d.t + t) * d.h + h);
        scale = std::max(scale, std::abs(static_cast<double>(y0[i])));
        if (t < t0) worst = std::max(worst, std::abs(static_cast<double>(y1[i]) - y0[i]));
      }
    }
  }
  const size_t row = static_cast<size_t>(t0 * d.h);
  EXPECT_NE(y0[row], y1[row]) << "the change must reach y at t0";
  std::printf("  %s %s: max change before t0 %.3e of max |y| %.3e\n", algo_name(algo),
              sizeof(T) == 4 ? "f32" : "f64", worst, scale);
  if (tol == 0)
    EXPECT_EQ(worst, 0.0);
  else
    EXPECT_LE(worst, tol * scale);
}

TEST(CausalConv, Causality) {
  CpuBackend be;
  check_causality<float>(be, ConvAlgo::direct, 0);
  check_causality<double>(be, ConvAlgo::direct, 0);
  check_causality<float>(be, ConvAlgo::fft, 1e-5);
  check_causality<double>(be, ConvAlgo::fft, 1e-12);
}

TEST(CausalConv, ReusedScratchAndPlansGiveIdenticalResults) {
  CpuBackend be;
  Inputs small(Dims{2, 64, 33}, 3), large(Dims{3, 1000, 70}, 4);
  const auto first = conv(be, small.u, small.k, ConvAlgo::fft);
  conv(be, large.u, large.k, ConvAlgo::fft);
  EXPECT_EQ(conv(be, small.u, small.k, ConvAlgo::fft), first);
}

TEST(CausalConv, RefusesBadShapes) {
  CpuBackend be;
  Owned<double> u({2, 7, 3}), y({2, 7, 3}), k({7, 3}), k_rows({6, 3}), k_cols({7, 4});
  Owned<double> y_bad({2, 7, 4}), u2({7, 3});
  Owned<float> k32({7, 3});
  expect_error([&] { be.causal_conv_forward(u, k_rows, y, ConvAlgo::fft); },
               "causal_conv_forward: kernel has 6 rows but the sequence length T");
  expect_error([&] { be.causal_conv_forward(u, k_cols, y, ConvAlgo::direct); },
               "kernel has 4 channels");
  expect_error([&] { be.causal_conv_forward(u, k, y_bad, ConvAlgo::fft); }, "y has shape");
  expect_error([&] { be.causal_conv_forward(u2, k, y, ConvAlgo::fft); }, "u must have 3 dims");
  expect_error([&] { be.causal_conv_forward(u, k32, y, ConvAlgo::fft); }, "mixed element types");
  expect_error([&] { be.causal_conv_backward(y, u, k_rows, u, k, ConvAlgo::fft); },
               "causal_conv_backward: kernel has 6 rows");
  expect_error([&] { be.causal_conv_backward(y, u, k, y_bad, k, ConvAlgo::fft); }, "du has shape");
  expect_error([&] { be.causal_conv_backward(y, u, k, u, k_cols, ConvAlgo::direct); },
               "dkernel has shape");
  expect_error([&] { be.causal_conv_backward(y_bad, u, k, u, k, ConvAlgo::fft); }, "dy has shape");
}

}  // namespace
}  // namespace pha::test
