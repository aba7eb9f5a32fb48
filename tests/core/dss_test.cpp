// The simplified DSS kernel: forward against a naive std::complex<double> evaluation of model.md's
// formula, backward (all four parameter gradients) against central finite differences in double,
// += semantics, f32 against f64, and shape errors. Parameter sets: the spec's "random" init, its
// "s4d" init, and Lambda near 0 and near |Lambda| = 1 (where f(L) = (e^L - 1)/L switches from its
// Taylor series to the closed form).
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <string>

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

template <typename T>
struct Params {
  Owned<T> lambda_re, lambda_im, c_re, c_im;
};

// kind: "random" (all normal(0, 1), the spec's default), "s4d" (the spec's option), "small"
// (|Lambda| ~ 0.02) or "unit" (|Lambda| spread around 1).
Params<double> make_params(const std::string& kind, int64_t h, int64_t n, uint64_t seed) {
  Params<double> p{random_tensor<double>({n}, seed), random_tensor<double>({n}, seed + 1),
                   random_tensor<double>({h, n}, seed + 2),
                   random_tensor<double>({h, n}, seed + 3)};
  if (kind == "s4d") {
    const double pi = 3.141592653589793;
    for (int64_t i = 0; i < n; ++i) {
      const double dt = std::exp(std::log(1e-3) + philox_uniform(seed, 5, i) * std::log(100.0));
      p.lambda_re[i] = std::log(0.5 * dt);
      p.lambda_im[i] = std::log(pi * (static_cast<double>(i) + 0.5) * dt);
    }
    for (size_t i = 0; i < p.c_re.size(); ++i) {
      p.c_re[i] *= std::sqrt(0.5);
      p.c_im[i] *= std::sqrt(0.5);
    }
  } else if (kind == "small" || kind == "unit") {
    const double center = kind == "small" ? -4.5 : -0.35, spread = kind == "small" ? 0.5 : 0.3;
    for (int64_t i = 0; i < n; ++i) {
      p.lambda_re[i] = center + spread * p.lambda_re[i];
      p.lambda_im[i] = center + spread * p.lambda_im[i];
    }
  }
  // Rounded to float, so that the f32 and f64 runs see the same parameters: a rounded lambda_im
  // alone would move the phase exp(lambda_im) t by ~1e-3 rad at t = 2000.
  for (Owned<double>* o : {&p.lambda_re, &p.lambda_im, &p.c_re, &p.c_im})
    for (double& v : o->data) v = static_cast<float>(v);
  return p;
}

// K[t, h] = Re(sum_n C[h, n] (e^L - 1) / L e^(L t)) in std::complex<double>, as model.md says.
std::vector<double> naive_kernel(const Params<double>& p, int64_t t_len) {
  const int64_t n = p.lambda_re.t.dim(0), h = p.c_re.t.dim(0);
  std::vector<double> k(static_cast<size_t>(t_len * h), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const std::complex<double> lam(-std::exp(p.lambda_re.data[i]), std::exp(p.lambda_im.data[i]));
    const std::complex<double> factor = (std::exp(lam) - 1.0) / lam;
    for (int64_t c = 0; c < h; ++c) {
      const std::complex<double> ct =
          std::complex<double>(p.c_re.data[c * n + i], p.c_im.data[c * n + i]) * factor;
      for (int64_t t = 0; t < t_len; ++t)
        k[t * h + c] += (ct * std::exp(lam * static_cast<double>(t))).real();
    }
  }
  return k;
}

template <typename T>
std::vector<T> kernel(CpuBackend& be, const Params<T>& p, int64_t t_len) {
  Owned<T> k({t_len, p.c_re.t.dim(0)});
  be.dss_kernel_forward(p.lambda_re, p.lambda_im, p.c_re, p.c_im, k);
  return k.data;
}

template <typename T>
Params<T> convert(const Params<double>& p) {
  return {convert<T>(p.lambda_re), convert<T>(p.lambda_im), convert<T>(p.c_re), convert<T>(p.c_im)};
}

template <typename T>
Params<T> zero_grads(const Params<T>& p) {
  return {Owned<T>(p.lambda_re.t.shape), Owned<T>(p.lambda_im.t.shape), Owned<T>(p.c_re.t.shape),
          Owned<T>(p.c_im.t.shape)};
}

template <typename T>
void backward(CpuBackend& be, const Owned<T>& dk, const Params<T>& p, Params<T>& g) {
  be.dss_kernel_backward(dk, p.lambda_re, p.lambda_im, p.c_re, p.c_im, g.lambda_re, g.lambda_im,
                         g.c_re, g.c_im);
}

struct Case {
  const char* kind;
  int64_t h, n, t;
};

TEST(DssKernel, ForwardMatchesNaiveComplex) {
  CpuBackend be;
  for (Case c : {Case{"random", 5, 7, 100}, Case{"random", 3, 64, 300}, Case{"s4d", 6, 64, 2048},
                 Case{"small", 4, 9, 150}, Case{"unit", 4, 33, 150}, Case{"random", 2, 3, 1}}) {
    const auto p = make_params(c.kind, c.h, c.n, 11);
    const auto ref = naive_kernel(p, c.t);
    const double e64 = rel_error(kernel(be, p, c.t), ref);
    const double e32 = rel_error(kernel(be, convert<float>(p), c.t), ref);
    std::printf("  %-6s H %ld N %ld T %4ld: rel error f64 %.3e (tol 1e-12), f32 %.3e (tol 1e-5)\n",
                c.kind, c.h, c.n, c.t, e64, e32);
    EXPECT_LE(e64, 1e-12) << c.kind;
    EXPECT_LE(e32, 1e-5) << c.kind;
  }
}

TEST(DssKernel, BackwardMatchesFiniteDifferences) {
  CpuBackend be;
  for (Case c : {Case{"random", 5, 7, 60}, Case{"s4d", 3, 8, 200}, Case{"small", 3, 5, 70},
                 Case{"unit", 4, 6, 70}}) {
    std::printf(" %s H %ld N %ld T %ld\n", c.kind, c.h, c.n, c.t);
    auto p = make_params(c.kind, c.h, c.n, 23);
    const auto dk = random_tensor<double>({c.t, c.h}, 29);
    auto g = zero_grads(p);
    backward(be, dk, p, g);
    auto loss = [&] { return probe_loss(kernel(be, p, c.t), dk.data); };
    // A small step for lambda: the kernel oscillates like exp(i exp(lambda_im) t), so the
    // truncation error grows like (exp(lambda_im) t step)^2.
    check_gradient("dlambda_re", p.lambda_re.data, g.lambda_re.data, loss, 1e-7, 1e-7);
    check_gradient("dlambda_im", p.lambda_im.data, g.lambda_im.data, loss, 1e-7, 1e-7);
    // K is linear in C: a large step has no truncation error.
    check_gradient("dc_re", p.c_re.data, g.c_re.data, loss, 1e-9, 1e-2);
    check_gradient("dc_im", p.c_im.data, g.c_im.data, loss, 1e-9, 1e-2);
  }
}

TEST(DssKernel, BackwardAccumulatesAndSkipsEmptyOutputs) {
  CpuBackend be;
  const auto p = make_params("random", 6, 10, 41);
  const auto dk = random_tensor<double>({90, 6}, 43);
  auto fresh = zero_grads(p);
  backward(be, dk, p, fresh);
  Params<double> acc{random_tensor<double>({10}, 1), random_tensor<double>({10}, 2),
                     random_tensor<double>({6, 10}, 3), random_tensor<double>({6, 10}, 4)};
  const auto before = acc;
  backward(be, dk, p, acc);
  Owned<double> Params<double>::*fields[] = {&Params<double>::lambda_re, &Params<double>::lambda_im,
                                             &Params<double>::c_re, &Params<double>::c_im};
  for (auto f : fields) {
    for (size_t i = 0; i < (acc.*f).size(); ++i) (acc.*f)[i] -= (before.*f).data[i];
    const double err = rel_error((acc.*f).data, (fresh.*f).data);
    std::printf("  += rel error %.3e (tol 1e-13)\n", err);
    EXPECT_LE(err, 1e-13);
  }
  // Only the lambda gradients, then only the C gradients: the same values.
  auto lam = zero_grads(p), cs = zero_grads(p);
  be.dss_kernel_backward(dk, p.lambda_re, p.lambda_im, p.c_re, p.c_im, lam.lambda_re, lam.lambda_im,
                         Tensor{}, Tensor{});
  be.dss_kernel_backward(dk, p.lambda_re, p.lambda_im, p.c_re, p.c_im, Tensor{}, Tensor{}, cs.c_re,
                         cs.c_im);
  EXPECT_EQ(lam.lambda_re.data, fresh.lambda_re.data);
  EXPECT_EQ(lam.lambda_im.data, fresh.lambda_im.data);
  EXPECT_EQ(cs.c_re.data, fresh.c_re.data);
  EXPECT_EQ(cs.c_im.data, fresh.c_im.data);
}

TEST(DssKernel, Float32BackwardMatchesFloat64) {
  CpuBackend be;
  for (Case c : {Case{"random", 8, 32, 256}, Case{"s4d", 16, 64, 1024}}) {
    const auto p = make_params(c.kind, c.h, c.n, 51);
    const auto dk = random_tensor<double>({c.t, c.h}, 53);
    auto g64 = zero_grads(p);
    backward(be, dk, p, g64);
    const auto p32 = convert<float>(p);
    auto g32 = zero_grads(p32);
    backward(be, convert<float>(dk), p32, g32);
    const double errs[] = {rel_error(g32.lambda_re.data, g64.lambda_re.data),
                           rel_error(g32.lambda_im.data, g64.lambda_im.data),
                           rel_error(g32.c_re.data, g64.c_re.data),
                           rel_error(g32.c_im.data, g64.c_im.data)};
    std::printf(
        "  %s f32 vs f64: dlambda_re %.3e dlambda_im %.3e dc_re %.3e dc_im %.3e (tol 1e-5)\n",
        c.kind, errs[0], errs[1], errs[2], errs[3]);
    for (double e : errs) EXPECT_LE(e, 1e-5) << c.kind;
  }
}

TEST(DssKernel, RefusesBadShapes) {
  CpuBackend be;
  Owned<double> lr({4}), li({4}), li_bad({5}), cr({3, 4}), ci({3, 4}), cr_bad({3, 5});
  Owned<double> k({10, 3}), k_bad({10, 2}), dcr_bad({4, 3});
  Owned<float> ci32({3, 4});
  expect_error([&] { be.dss_kernel_forward(lr, li, cr_bad, ci, k); },
               "dss_kernel_forward: c_re has shape [3, 5] but lambda_re has N = 4 modes");
  expect_error([&] { be.dss_kernel_forward(lr, li_bad, cr, ci, k); }, "lambda_im has shape [5]");
  expect_error([&] { be.dss_kernel_forward(lr, li, cr, cr_bad, k); }, "c_im has shape [3, 5]");
  expect_error([&] { be.dss_kernel_forward(lr, li, cr, ci, k_bad); },
               "kernel has shape [10, 2] but c_re has H = 3 channels");
  expect_error([&] { be.dss_kernel_forward(lr, li, cr, ci32, k); }, "mixed element types");
  expect_error([&] { be.dss_kernel_forward(cr, li, cr, ci, k); }, "lambda_re must have 1 dims");
  expect_error([&] { be.dss_kernel_backward(k_bad, lr, li, cr, ci, lr, li, cr, ci); },
               "dss_kernel_backward: dkernel has shape [10, 2]");
  expect_error([&] { be.dss_kernel_backward(k, lr, li, cr, ci, lr, li, dcr_bad, ci); },
               "dc_re has shape [4, 3]");
  expect_error([&] { be.dss_kernel_backward(k, lr, li, cr, ci, li_bad, li, cr, ci); },
               "dlambda_re has shape [5]");
}

}  // namespace
}  // namespace pha::test
