// Kernels of the simplified DSS kernel (cuda_dss.cpp wraps them around two cuBLAS GEMMs, as the
// CPU backend does): per-mode constants, the Vandermonde matrix, Ct = C f(Lambda) and the
// per-mode chain rule. The complex math is core/math/dss.h's, in double.
#include "core/cuda/cuda_common.cuh"
#include "core/math/dss.h"

namespace pha::cuda {

namespace {

struct Mode {
  Cplx<double> lambda, f, df;  // Lambda_n, f(Lambda_n), f'(Lambda_n): 6 doubles
};
static_assert(sizeof(Mode) == 6 * sizeof(double), "modes are 6 doubles each (cuda_kernels.h)");

template <typename T>
struct Modes {
  const T* lambda_re;
  const T* lambda_im;
  Mode* modes;
  __device__ void operator()(int64_t i) const {
    Mode m;
    m.lambda = dss_lambda<double>(lambda_re[i], lambda_im[i]);
    dss_factor(m.lambda, &m.f, &m.df);
    modes[i] = m;
  }
};

// Rounds to T, flushing values below T's normal range to 0 (as the CPU backend: exp(Re(Lambda) t)
// underflows on long kernels).
template <typename T>
__device__ T round_flush(double x) {
  const double tiny = sizeof(T) == 4 ? 1.1754943508222875e-38 : 2.2250738585072014e-308;
  return fabs(x) < tiny ? T(0) : static_cast<T>(x);
}

// a[s, i] = Re V, a[s, n + i] = -Im V with V = exp(Lambda_i s), computed directly per element.
template <typename T>
struct Vandermonde {
  const Mode* modes;
  T* a;
  int64_t n;
  __device__ void operator()(int64_t idx) const {
    const int64_t s = idx / n, i = idx % n;
    const Cplx<double> l = modes[i].lambda;
    const double st = static_cast<double>(s);
    const Cplx<double> v = cexp(Cplx<double>{l.re * st, l.im * st});
    a[s * 2 * n + i] = round_flush<T>(v.re);
    a[s * 2 * n + n + i] = round_flush<T>(-v.im);
  }
};

template <typename T>
struct CtTerm {
  const Mode* modes;
  const T* c_re;
  const T* c_im;
  T* ct;  // [h, 2n]
  int64_t n;
  __device__ void operator()(int64_t idx) const {
    const int64_t hh = idx / n, i = idx % n;
    const Cplx<double> v = Cplx<double>{c_re[idx], c_im[idx]} * modes[i].f;
    ct[hh * 2 * n + i] = static_cast<T>(v.re);
    ct[hh * 2 * n + n + i] = static_cast<T>(v.im);
  }
};

template <typename T>
struct TimeScaled {
  const T* dk;
  T* tdk;
  int64_t h;
  __device__ void operator()(int64_t idx) const { tdk[idx] = static_cast<T>(idx / h) * dk[idx]; }
};

// One mode per thread: its channels in order (the sums for g_f and g_lambda stay in double).
template <typename T>
struct ParamGrads {
  const Mode* modes;
  const T* g;  // [h, 2n]
  const T* w;  // [h, 2n] or null
  const T* c_re;
  const T* c_im;
  T* dc_re;
  T* dc_im;
  T* dlambda_re;
  T* dlambda_im;
  int64_t h, n;
  __device__ void operator()(int64_t i) const {
    const Mode m = modes[i];
    const int64_t n2 = 2 * n;
    Cplx<double> g_f{0, 0}, g_lambda{0, 0};
    for (int64_t hh = 0; hh < h; ++hh) {
      const int64_t k = hh * n + i;
      const Cplx<double> gct{g[hh * n2 + i], g[hh * n2 + n + i]};
      const Cplx<double> wt =
          w ? Cplx<double>{w[hh * n2 + i], w[hh * n2 + n + i]} : Cplx<double>{0, 0};
      const Cplx<double> gc =
          dss_channel_grads(Cplx<double>{c_re[k], c_im[k]}, m.f, gct, wt, &g_f, &g_lambda);
      if (dc_re) dc_re[k] += static_cast<T>(gc.re);
      if (dc_im) dc_im[k] += static_cast<T>(gc.im);
    }
    double glr = 0, gli = 0;
    dss_mode_grads(m.lambda, m.df, g_f, g_lambda, &glr, &gli);
    if (dlambda_re) dlambda_re[i] += static_cast<T>(glr);
    if (dlambda_im) dlambda_im[i] += static_cast<T>(gli);
  }
};

// f32 or f64 only: the kernel is computed in fp32 at least (model.md).
template <typename Fn>
void dispatch_wide(const char* op, DType dtype, Fn&& fn) {
  if (dtype == DType::f32)
    fn(float{});
  else if (dtype == DType::f64)
    fn(double{});
  else
    refuse_dtype(op, dtype);
}

}  // namespace

void dss_modes(const Launch& l, DType dtype, const void* lambda_re, const void* lambda_im,
               double* modes, int64_t n) {
  dispatch_wide("dss_kernel", dtype, [&](auto tag) {
    using T = decltype(tag);
    for_each(l, "dss_modes", n,
             Modes<T>{static_cast<const T*>(lambda_re), static_cast<const T*>(lambda_im),
                      reinterpret_cast<Mode*>(modes)});
  });
}

void dss_vandermonde(const Launch& l, DType dtype, const double* modes, void* a, int64_t t,
                     int64_t n) {
  dispatch_wide("dss_kernel", dtype, [&](auto tag) {
    using T = decltype(tag);
    for_each(l, "dss_vandermonde", t * n,
             Vandermonde<T>{reinterpret_cast<const Mode*>(modes), static_cast<T*>(a), n});
  });
}

void dss_ct(const Launch& l, DType dtype, const double* modes, const void* c_re, const void* c_im,
            void* ct, int64_t h, int64_t n) {
  dispatch_wide("dss_kernel_forward", dtype, [&](auto tag) {
    using T = decltype(tag);
    for_each(l, "dss_ct", h * n,
             CtTerm<T>{reinterpret_cast<const Mode*>(modes), static_cast<const T*>(c_re),
                       static_cast<const T*>(c_im), static_cast<T*>(ct), n});
  });
}

void dss_time_scaled(const Launch& l, DType dtype, const void* dk, void* tdk, int64_t t,
                     int64_t h) {
  dispatch_wide("dss_kernel_backward", dtype, [&](auto tag) {
    using T = decltype(tag);
    for_each(l, "dss_time_scaled", t * h,
             TimeScaled<T>{static_cast<const T*>(dk), static_cast<T*>(tdk), h});
  });
}

void dss_param_grads(const Launch& l, DType dtype, const double* modes, const void* g,
                     const void* w, const void* c_re, const void* c_im, void* dc_re, void* dc_im,
                     void* dlambda_re, void* dlambda_im, int64_t h, int64_t n) {
  dispatch_wide("dss_kernel_backward", dtype, [&](auto tag) {
    using T = decltype(tag);
    for_each(
        l, "dss_param_grads", n,
        ParamGrads<T>{reinterpret_cast<const Mode*>(modes), static_cast<const T*>(g),
                      static_cast<const T*>(w), static_cast<const T*>(c_re),
                      static_cast<const T*>(c_im), static_cast<T*>(dc_re), static_cast<T*>(dc_im),
                      static_cast<T*>(dlambda_re), static_cast<T*>(dlambda_im), h, n});
  });
}

}  // namespace pha::cuda
