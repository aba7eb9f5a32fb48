// CpuBackend: the simplified DSS kernel K[t, h] = Re(sum_n Ct[h, n] exp(Lambda_n t)) and its
// backward (model.md, GSS branch; the complex math is in core/math/dss.h).
//
// Both directions are GEMMs against the Vandermonde matrix A [T, 2N] with A[t, n] = Re V[n, t]
// and A[t, N + n] = -Im V[n, t], V[n, t] = exp(Lambda_n t):
//   forward   K [T, H]      = A Ct2^T,        Ct2 [H, 2N] = [Re Ct | Im Ct]
//   backward  G [H, 2N]     = dK^T A        = [Re | Im] of g_Ct = sum_t dK[t, h] conj(V[n, t])
//             W [H, 2N]     = (t dK)^T A    = [Re | Im] of sum_t t dK[t, h] conj(V[n, t])
// A is built in double from powers computed directly (never by a drifting recurrence) and rounded
// to the compute type once; the per-mode complex chain rule runs in double.
#include <cblas.h>

#include <cmath>
#include <limits>
#include <utility>

#include "core/cpu/cpu_backend.h"
#include "core/dss_shapes.h"
#include "core/math/dss.h"

namespace pha {
namespace {

// Scratch slots (ops run one at a time, so slots are shared with other op families).
constexpr int kSlotA = 0;       // A [T, 2N]
constexpr int kSlotPowers = 1;  // exact powers of exp(Lambda), see fill_vandermonde
constexpr int kSlotModes = 2;   // Mode [N]
constexpr int kSlotCt = 3;      // Ct2 [H, 2N] (forward) or G [H, 2N] (backward)
constexpr int kSlotW = 4;       // W [H, 2N]
constexpr int kSlotTdK = 5;     // t dK [T, H]

// V[n, t] = exp(Lambda_n (t - t % kBlock)) * exp(Lambda_n (t % kBlock)): a product of two directly
// computed exponentials (relative error a few ulp of double), at N (T / kBlock + kBlock) exp calls.
constexpr int64_t kBlock = 64;

struct Mode {
  Cplx<double> lambda, f, df;  // Lambda_n, f(Lambda_n), f'(Lambda_n)
};

void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t m, int64_t n, int64_t k, const float* a,
          int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
              1.0f, a, static_cast<int>(lda), b, static_cast<int>(ldb), 0.0f, c,
              static_cast<int>(ldc));
}

void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t m, int64_t n, int64_t k, const double* a,
          int64_t lda, const double* b, int64_t ldb, double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
              1.0, a, static_cast<int>(lda), b, static_cast<int>(ldb), 0.0, c,
              static_cast<int>(ldc));
}

// Rounds to T, flushing values below T's normal range to 0 (exp(Re(Lambda) t) underflows for long
// kernels, and subnormal operands make GEMMs crawl).
template <typename T>
T round_flush(double x) {
  return std::abs(x) < static_cast<double>(std::numeric_limits<T>::min()) ? T(0)
                                                                          : static_cast<T>(x);
}

template <typename T>
Mode* compute_modes(CpuBackend& be, const Tensor& lambda_re, const Tensor& lambda_im, int64_t n) {
  Mode* modes = be.scratch<Mode>(kSlotModes, static_cast<size_t>(n));
  const T* lr = lambda_re.as<T>();
  const T* li = lambda_im.as<T>();
  for (int64_t i = 0; i < n; ++i) {
    Mode& m = modes[i];
    m.lambda = dss_lambda<double>(lr[i], li[i]);
    dss_factor(m.lambda, &m.f, &m.df);
  }
  return modes;
}

// A [T, 2N]: A[t, n] = Re exp(Lambda_n t), A[t, N + n] = -Im exp(Lambda_n t).
template <typename T>
T* fill_vandermonde(CpuBackend& be, const Mode* modes, int64_t n, int64_t t_len) {
  const int64_t blocks = (t_len + kBlock - 1) / kBlock;
  // hi [blocks, N] = exp(Lambda (k kBlock)), lo [kBlock, N] = exp(Lambda j).
  Cplx<double>* hi =
      be.scratch<Cplx<double>>(kSlotPowers, static_cast<size_t>((blocks + kBlock) * n));
  Cplx<double>* lo = hi + blocks * n;
  T* a = be.scratch<T>(kSlotA, static_cast<size_t>(t_len * 2 * n));
#pragma omp parallel
  {
#pragma omp for
    for (int64_t r = 0; r < blocks + kBlock; ++r) {
      const double step =
          r < blocks ? static_cast<double>(r * kBlock) : static_cast<double>(r - blocks);
      for (int64_t i = 0; i < n; ++i)
        hi[r * n + i] = cexp(Cplx<double>{modes[i].lambda.re * step, modes[i].lambda.im * step});
    }
#pragma omp for
    for (int64_t t = 0; t < t_len; ++t) {
      const Cplx<double>* h = hi + (t / kBlock) * n;
      const Cplx<double>* l = lo + (t % kBlock) * n;
      T* row = a + t * 2 * n;
      for (int64_t i = 0; i < n; ++i) {
        const Cplx<double> v = h[i] * l[i];
        row[i] = round_flush<T>(v.re);
        row[n + i] = round_flush<T>(-v.im);
      }
    }
  }
  return a;
}

}  // namespace

void CpuBackend::dss_kernel_forward(const Tensor& lambda_re, const Tensor& lambda_im,
                                    const Tensor& c_re, const Tensor& c_im, const Tensor& kernel) {
  const char* op = "dss_kernel_forward";
  const DssDims d = check_dss_shapes(op, lambda_re, lambda_im, c_re, c_im, kernel, "kernel");
  dispatch_float(op, kernel.dtype, [&](auto tag) {
    using T = decltype(tag);
    const Mode* modes = compute_modes<T>(*this, lambda_re, lambda_im, d.n);
    const T* a = fill_vandermonde<T>(*this, modes, d.n, d.t);
    T* ct = scratch<T>(kSlotCt, static_cast<size_t>(d.h * 2 * d.n));
    const T* cr = c_re.as<T>();
    const T* ci = c_im.as<T>();
#pragma omp parallel for
    for (int64_t h = 0; h < d.h; ++h) {
      for (int64_t i = 0; i < d.n; ++i) {
        const int64_t k = h * d.n + i;
        const Cplx<double> v = Cplx<double>{cr[k], ci[k]} * modes[i].f;
        ct[h * 2 * d.n + i] = static_cast<T>(v.re);
        ct[h * 2 * d.n + d.n + i] = static_cast<T>(v.im);
      }
    }
    gemm(CblasNoTrans, CblasTrans, d.t, d.h, 2 * d.n, a, 2 * d.n, ct, 2 * d.n, kernel.as<T>(), d.h);
  });
}

void CpuBackend::dss_kernel_backward(const Tensor& dkernel, const Tensor& lambda_re,
                                     const Tensor& lambda_im, const Tensor& c_re,
                                     const Tensor& c_im, const Tensor& dlambda_re,
                                     const Tensor& dlambda_im, const Tensor& dc_re,
                                     const Tensor& dc_im) {
  const char* op = "dss_kernel_backward";
  const DssDims d = check_dss_shapes(op, lambda_re, lambda_im, c_re, c_im, dkernel, "dkernel");
  const std::pair<const char*, const Tensor*> grads[] = {{"dlambda_re", &dlambda_re},
                                                         {"dlambda_im", &dlambda_im},
                                                         {"dc_re", &dc_re},
                                                         {"dc_im", &dc_im}};
  const Tensor* params[] = {&lambda_re, &lambda_im, &c_re, &c_im};
  for (int i = 0; i < 4; ++i) {
    if (grads[i].second->empty()) continue;
    require_same_shape(op, grads[i].first, *grads[i].second, "its parameter", *params[i]);
    require_same_dtype(op, dkernel, *grads[i].second);
  }
  const bool want_lambda = !dlambda_re.empty() || !dlambda_im.empty();
  const bool want_c = !dc_re.empty() || !dc_im.empty();
  if (!want_lambda && !want_c) return;
  dispatch_float(op, dkernel.dtype, [&](auto tag) {
    using T = decltype(tag);
    const Mode* modes = compute_modes<T>(*this, lambda_re, lambda_im, d.n);
    const T* a = fill_vandermonde<T>(*this, modes, d.n, d.t);
    const T* dk = dkernel.as<T>();
    const int64_t n2 = 2 * d.n;
    T* g = scratch<T>(kSlotCt, static_cast<size_t>(d.h * n2));
    gemm(CblasTrans, CblasNoTrans, d.h, n2, d.t, dk, d.h, a, n2, g, n2);
    T* w = nullptr;
    if (want_lambda) {
      T* tdk = scratch<T>(kSlotTdK, static_cast<size_t>(d.t * d.h));
#pragma omp parallel for
      for (int64_t t = 0; t < d.t; ++t)
        for (int64_t h = 0; h < d.h; ++h) tdk[t * d.h + h] = static_cast<T>(t) * dk[t * d.h + h];
      w = scratch<T>(kSlotW, static_cast<size_t>(d.h * n2));
      gemm(CblasTrans, CblasNoTrans, d.h, n2, d.t, tdk, d.h, a, n2, w, n2);
    }
    const T* cr = c_re.as<T>();
    const T* ci = c_im.as<T>();
    T* dcr = dc_re.empty() ? nullptr : dc_re.as<T>();
    T* dci = dc_im.empty() ? nullptr : dc_im.as<T>();
    T* dlr = dlambda_re.empty() ? nullptr : dlambda_re.as<T>();
    T* dli = dlambda_im.empty() ? nullptr : dlambda_im.as<T>();
    // One mode per iteration: the channel sums for g_f and g_lambda stay in double and in order.
#pragma omp parallel for
    for (int64_t i = 0; i < d.n; ++i) {
      const Mode& m = modes[i];
      Cplx<double> g_f{0, 0}, g_lambda{0, 0};
      for (int64_t h = 0; h < d.h; ++h) {
        const int64_t k = h * d.n + i;
        const Cplx<double> gct{g[h * n2 + i], g[h * n2 + d.n + i]};
        const Cplx<double> wt =
            w ? Cplx<double>{w[h * n2 + i], w[h * n2 + d.n + i]} : Cplx<double>{0, 0};
        const Cplx<double> gc =
            dss_channel_grads(Cplx<double>{cr[k], ci[k]}, m.f, gct, wt, &g_f, &g_lambda);
        if (dcr) dcr[k] += static_cast<T>(gc.re);
        if (dci) dci[k] += static_cast<T>(gc.im);
      }
      double glr = 0, gli = 0;
      dss_mode_grads(m.lambda, m.df, g_f, g_lambda, &glr, &gli);
      if (dlr) dlr[i] += static_cast<T>(glr);
      if (dli) dli[i] += static_cast<T>(gli);
    }
  });
}

}  // namespace pha
