#pragma once
// Per-mode complex math of the simplified DSS kernel (model.md, GSS branch), one definition for the
// CPU and CUDA backends:
//   Lambda_n = -exp(lambda_re[n]) + i exp(lambda_im[n])
//   Ct[h, n] = C[h, n] * f(Lambda_n),  f(L) = (e^L - 1) / L
//   K[t, h]  = Re(sum_n Ct[h, n] exp(Lambda_n t))
// Gradients of the real loss with respect to a complex quantity z = x + iy are carried as
// g_z = dl/dx + i dl/dy. For w = a b (holomorphic) this gives g_a = g_w conj(b), and a real
// parameter p enters as dl/dp = Re(g_z conj(dz/dp)).
#include <cmath>

#include "core/hd.h"

namespace pha {

template <typename T>
struct Cplx {
  T re, im;
};

template <typename T>
PHA_HD Cplx<T> operator+(Cplx<T> a, Cplx<T> b) {
  return {a.re + b.re, a.im + b.im};
}
template <typename T>
PHA_HD Cplx<T> operator-(Cplx<T> a, Cplx<T> b) {
  return {a.re - b.re, a.im - b.im};
}
template <typename T>
PHA_HD Cplx<T> operator*(Cplx<T> a, Cplx<T> b) {
  return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}
template <typename T>
PHA_HD Cplx<T> conj(Cplx<T> a) {
  return {a.re, -a.im};
}
// a / b for b != 0.
template <typename T>
PHA_HD Cplx<T> cdiv(Cplx<T> a, Cplx<T> b) {
  const T inv = T(1) / (b.re * b.re + b.im * b.im);
  return {(a.re * b.re + a.im * b.im) * inv, (a.im * b.re - a.re * b.im) * inv};
}
// exp(z), computed directly (never by repeated multiplication, which drifts).
template <typename T>
PHA_HD Cplx<T> cexp(Cplx<T> z) {
  const T m = exp(z.re);
  return {m * cos(z.im), m * sin(z.im)};
}

// Lambda_n from its two real parameters. Re(Lambda) < 0 always, so Lambda is never 0.
template <typename T>
PHA_HD Cplx<T> dss_lambda(T lambda_re, T lambda_im) {
  return {-exp(lambda_re), exp(lambda_im)};
}

// f(L) = (e^L - 1) / L and f'(L) = (e^L - f(L)) / L. Both cancel catastrophically as L -> 0, so
// for |L| < 1 they come from the Taylor series in q_m = L^m / m!: f = sum_m q_m / (m+1) and
// f' = sum_m q_m / (m+2); with 24 terms the truncation is below 1e-25.
template <typename T>
PHA_HD void dss_factor(Cplx<T> L, Cplx<T>* f, Cplx<T>* df) {
  if (L.re * L.re + L.im * L.im < T(1)) {
    Cplx<T> q{T(1), T(0)};
    Cplx<T> sf{T(0), T(0)}, sdf{T(0), T(0)};
    for (int m = 0; m < 24; ++m) {
      const T a = T(1) / T(m + 1), b = T(1) / T(m + 2);
      sf = sf + Cplx<T>{q.re * a, q.im * a};
      sdf = sdf + Cplx<T>{q.re * b, q.im * b};
      const Cplx<T> next = q * L;
      q = {next.re * a, next.im * a};
    }
    *f = sf;
    *df = sdf;
    return;
  }
  const Cplx<T> e = cexp(L);
  *f = cdiv(Cplx<T>{e.re - T(1), e.im}, L);
  *df = cdiv(e - *f, L);
}

// One (h, n) term of the backward. gct = g_Ct[h, n] = sum_t dK[t, h] conj(V[n, t]) and
// w = sum_t t dK[t, h] conj(V[n, t]) with V[n, t] = exp(Lambda_n t). Returns g_C[h, n] and adds
// this channel's share to g_f[n] (through Ct = C f) and g_lambda[n] (through V, dV/dL = t V).
template <typename T>
PHA_HD Cplx<T> dss_channel_grads(Cplx<T> c, Cplx<T> f, Cplx<T> gct, Cplx<T> w, Cplx<T>* g_f,
                                 Cplx<T>* g_lambda) {
  *g_f = *g_f + gct * conj(c);
  *g_lambda = *g_lambda + conj(c * f) * w;
  return gct * conj(f);
}

// Closes the chain for mode n: g_lambda (from V) plus g_f conj(f'(L)), then onto the parameters.
// dL/dlambda_re = -exp(lambda_re) = Re L and dL/dlambda_im = i exp(lambda_im) = i Im L.
template <typename T>
PHA_HD void dss_mode_grads(Cplx<T> L, Cplx<T> df, Cplx<T> g_f, Cplx<T> g_lambda, T* dlambda_re,
                           T* dlambda_im) {
  const Cplx<T> g = g_lambda + g_f * conj(df);
  *dlambda_re = L.re * g.re;
  *dlambda_im = L.im * g.im;
}

}  // namespace pha
