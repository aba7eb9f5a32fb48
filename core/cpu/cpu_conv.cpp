// CpuBackend: the causal long convolution of GSS, y[b, t, h] = sum_{s <= t} K[t - s, h] u[b, s, h]
// with u, y [B, T, H] and K [T, H], and its backward
//   du[b, s, h] += sum_{t >= s} K[t - s, h] dy[b, t, h]
//   dK[j, h]    += sum_b sum_{t >= j} dy[b, t, h] u[b, t - j, h].
//
// ConvAlgo::fft: real FFTs of length n >= 2T (a 2^a 3^b 5^c size), zero-padded so that the circular
// products never wrap: y = ifft(fft(u) fft(K)), du = ifft(conj(fft(K)) fft(dy)), dK = ifft(sum_b
// conj(fft(u_b)) fft(dy_b)). The H channels are split into chunks of up to kChunk channels, one
// OpenMP task each; a chunk is transposed into contiguous signals [width, n] (FFTW runs these ~3x
// faster than the strided [n, width] batch) and owns its buffers in the op's scratch.
// ConvAlgo::direct: the O(T^2) sum in ascending s, so y[t] never reads u after t (bit-exact
// causality, a test mode).
#include <fftw3.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/fft_plan_cache.h"

namespace pha {
namespace {

constexpr int kSlotReal = 0;      // per chunk: the padded real signals [width, n]
constexpr int kSlotComplex = 1;   // per chunk: spectra [width, n/2 + 1], several each
constexpr int64_t kChunk = 32;    // most channels per FFT batch: small enough to stay in L2
constexpr int64_t kMinChunk = 8;  // fewest, where more threads than chunks of kChunk would idle
constexpr int64_t kTile = 16;     // time steps per tile of the [T, width] <-> [width, n] transposes

struct ConvDims {
  int64_t b, t, h;
};

ConvDims check_conv(const char* op, const char* u_name, const Tensor& u, const Tensor& kernel) {
  require_rank(op, u_name, u, 3);
  require_rank(op, "kernel", kernel, 2);
  const ConvDims d{u.dim(0), u.dim(1), u.dim(2)};
  PHA_REQUIRE(kernel.dim(0) == d.t,
              "{}: kernel has {} rows but the sequence length T of {} {} is {}; the kernel must be "
              "[T, H]",
              op, kernel.dim(0), u_name, u.shape.str(), d.t);
  PHA_REQUIRE(kernel.dim(1) == d.h,
              "{}: kernel has {} channels (shape {}) but {} {} has H = {}; the kernel must be "
              "[T, H]",
              op, kernel.dim(1), kernel.shape.str(), u_name, u.shape.str(), d.h);
  require_same_dtype(op, u, kernel);
  return d;
}

// Smallest 2^a 3^b 5^c >= n (FFTW is fastest on such lengths).
int64_t fast_fft_size(int64_t n) {
  for (int64_t m = n;; ++m) {
    int64_t r = m;
    for (int64_t p : {2, 3, 5})
      while (r % p == 0) r /= p;
    if (r == 1) return m;
  }
}

// Channels per chunk: kChunk, or fewer (down to kMinChunk) so that every thread gets a chunk.
int64_t chunk_width_for(int64_t h) {
  const int64_t threads = omp_get_max_threads();
  return std::min(h, std::clamp((h + threads - 1) / threads, kMinChunk, kChunk));
}

// FFTW's two precisions behind one name.
template <typename T>
struct Fftw;
template <>
struct Fftw<float> {
  using Complex = fftwf_complex;
  using Plan = fftwf_plan;
  static void r2c(Plan p, float* in, Complex* out) { fftwf_execute_dft_r2c(p, in, out); }
  static void c2r(Plan p, Complex* in, float* out) { fftwf_execute_dft_c2r(p, in, out); }
};
template <>
struct Fftw<double> {
  using Complex = fftw_complex;
  using Plan = fftw_plan;
  static void r2c(Plan p, double* in, Complex* out) { fftw_execute_dft_r2c(p, in, out); }
  static void c2r(Plan p, Complex* in, double* out) { fftw_execute_dft_c2r(p, in, out); }
};

// The FFT setup of one call: the length, the chunks, each chunk's buffers and the plans (made
// here, outside any parallel region; at most two widths, so at most two plans per direction).
template <typename T>
struct FftConv {
  using C = typename Fftw<T>::Complex;
  int64_t n, bins, width, chunks, t_len, h;
  int64_t rdist, cdist;                // between signals, 64-byte multiples >= n, bins
  size_t real_stride, complex_stride;  // between chunks' buffers: rdist * width, cdist * width
  T* real;
  C* spectra;
  typename Fftw<T>::Plan r2c[2], c2r[2];  // [0] full width, [1] the last chunk's width

  FftConv(CpuBackend& be, int64_t t_len_, int64_t h_, int spectra_per_chunk)
      : n(fast_fft_size(2 * t_len_)),
        bins(n / 2 + 1),
        width(chunk_width_for(h_)),
        chunks((h_ + width - 1) / width),
        t_len(t_len_),
        h(h_) {
    rdist = (n + 15) / 16 * 16 + 16;  // + 64 bytes: power-of-two strides alias in cache
    cdist = (bins + 7) / 8 * 8;
    real_stride = static_cast<size_t>(rdist * width);
    complex_stride = static_cast<size_t>(cdist * width);
    real = be.scratch<T>(kSlotReal, real_stride * static_cast<size_t>(chunks));
    spectra = be.scratch<C>(kSlotComplex, complex_stride * static_cast<size_t>(spectra_per_chunk) *
                                              static_cast<size_t>(chunks));
    for (int k = 0; k < 2; ++k) {
      const int w = static_cast<int>(k == 0 ? width : chunk_width(chunks - 1));
      const FftPlanCache::Layout l{static_cast<int>(n),     w, 1,
                                   static_cast<int>(rdist), 1, static_cast<int>(cdist)};
      r2c[k] = be.fft_plans().r2c(l, real, spectra);
      c2r[k] = be.fft_plans().c2r(l, spectra, real);
    }
  }
  int64_t chunk_width(int64_t c) const { return std::min(width, h - c * width); }
  int plan_index(int64_t c) const { return chunk_width(c) == width ? 0 : 1; }
  T* chunk_real(int64_t c) const { return real + static_cast<size_t>(c) * real_stride; }
  // Spectrum s of chunk c, [width, cdist] (bins used).
  C* chunk_spectrum(int64_t c, int s, int per_chunk) const {
    return spectra +
           (static_cast<size_t>(c) * static_cast<size_t>(per_chunk) + static_cast<size_t>(s)) *
               complex_stride;
  }

  // buf [w, rdist] = (src[:, h0 : h0 + w] of a [T, H] signal)^T, zero-padded; spec = its r2c.
  void forward(int64_t c, const T* src, C* spec) const {
    const int64_t w = chunk_width(c), h0 = c * width;
    T* buf = chunk_real(c);
    // In tiles of kTile time steps, so that every write fills whole cache lines.
    for (int64_t t0 = 0; t0 < t_len; t0 += kTile) {
      const int64_t t1 = std::min(t_len, t0 + kTile);
      for (int64_t j = 0; j < w; ++j)
        for (int64_t t = t0; t < t1; ++t) buf[j * rdist + t] = src[t * h + h0 + j];
    }
    for (int64_t j = 0; j < w; ++j)
      std::memset(buf + j * rdist + t_len, 0, static_cast<size_t>(n - t_len) * sizeof(T));
    Fftw<T>::r2c(r2c[plan_index(c)], buf, spec);
  }
  // dst[:, h0 : h0 + w] (+)= scale * c2r(spec)[:T] (spec is destroyed).
  void inverse(int64_t c, C* spec, T* dst, T scale, bool accumulate) const {
    const int64_t w = chunk_width(c), h0 = c * width;
    T* buf = chunk_real(c);
    Fftw<T>::c2r(c2r[plan_index(c)], spec, buf);
    for (int64_t t0 = 0; t0 < t_len; t0 += kTile) {
      const int64_t t1 = std::min(t_len, t0 + kTile);
      for (int64_t j = 0; j < w; ++j) {
        T* out = dst + h0 + j;
        const T* in = buf + j * rdist;
        if (accumulate)
          for (int64_t t = t0; t < t1; ++t) out[t * h] += scale * in[t];
        else
          for (int64_t t = t0; t < t1; ++t) out[t * h] = scale * in[t];
      }
    }
  }
  // z = x z (conj_x: conj(x) z) over the used bins of chunk c's spectra.
  static void multiply(const C* x, C* z, int64_t count, bool conj_x) {
    const T s = conj_x ? T(-1) : T(1);
    for (int64_t i = 0; i < count; ++i) {
      const T xr = x[i][0], xi = s * x[i][1], zr = z[i][0], zi = z[i][1];
      z[i][0] = xr * zr - xi * zi;
      z[i][1] = xr * zi + xi * zr;
    }
  }
  void multiply(int64_t c, const C* x, C* z, bool conj_x) const {
    for (int64_t j = 0; j < chunk_width(c); ++j)
      multiply(x + j * cdist, z + j * cdist, bins, conj_x);
  }
  // acc += conj(x) z over the used bins of chunk c's spectra.
  void accumulate_correlation(int64_t c, const C* x, const C* z, C* acc) const {
    for (int64_t j = 0; j < chunk_width(c); ++j) {
      for (int64_t i = j * cdist; i < j * cdist + bins; ++i) {
        acc[i][0] += x[i][0] * z[i][0] + x[i][1] * z[i][1];
        acc[i][1] += x[i][0] * z[i][1] - x[i][1] * z[i][0];
      }
    }
  }
};

template <typename T>
void fft_forward(CpuBackend& be, const ConvDims& d, const T* u, const T* k, T* y) {
  FftConv<T> f(be, d.t, d.h, 2);
  const T inv_n = T(1) / static_cast<T>(f.n);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < f.chunks; ++c) {
    auto* kh = f.chunk_spectrum(c, 0, 2);
    auto* x = f.chunk_spectrum(c, 1, 2);
    f.forward(c, k, kh);
    for (int64_t b = 0; b < d.b; ++b) {
      f.forward(c, u + b * d.t * d.h, x);
      f.multiply(c, kh, x, false);
      f.inverse(c, x, y + b * d.t * d.h, inv_n, false);
    }
  }
}

template <typename T>
void fft_backward(CpuBackend& be, const ConvDims& d, const T* dy, const T* u, const T* k, T* du,
                  T* dk) {
  FftConv<T> f(be, d.t, d.h, 4);
  const T inv_n = T(1) / static_cast<T>(f.n);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < f.chunks; ++c) {
    auto* kh = f.chunk_spectrum(c, 0, 4);
    auto* g = f.chunk_spectrum(c, 1, 4);
    auto* uh = f.chunk_spectrum(c, 2, 4);
    auto* acc = f.chunk_spectrum(c, 3, 4);
    if (du) f.forward(c, k, kh);
    if (dk) std::memset(acc, 0, f.complex_stride * sizeof(*acc));
    for (int64_t b = 0; b < d.b; ++b) {
      f.forward(c, dy + b * d.t * d.h, g);
      if (dk) {
        f.forward(c, u + b * d.t * d.h, uh);
        f.accumulate_correlation(c, uh, g, acc);
      }
      if (du) {
        f.multiply(c, kh, g, true);
        f.inverse(c, g, du + b * d.t * d.h, inv_n, true);
      }
    }
    if (dk) f.inverse(c, acc, dk, inv_n, true);
  }
}

template <typename T>
void direct_forward(const ConvDims& d, const T* u, const T* k, T* y) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < d.b; ++b) {
    for (int64_t t = 0; t < d.t; ++t) {
      T* out = y + (b * d.t + t) * d.h;
      for (int64_t j = 0; j < d.h; ++j) out[j] = T(0);
      for (int64_t s = 0; s <= t; ++s) {
        const T* us = u + (b * d.t + s) * d.h;
        const T* ks = k + (t - s) * d.h;
        for (int64_t j = 0; j < d.h; ++j) out[j] += ks[j] * us[j];
      }
    }
  }
}

template <typename T>
void direct_backward(const ConvDims& d, const T* dy, const T* u, const T* k, T* du, T* dk) {
  if (du) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < d.b; ++b) {
      for (int64_t s = 0; s < d.t; ++s) {
        T* out = du + (b * d.t + s) * d.h;
        for (int64_t t = s; t < d.t; ++t) {
          const T* g = dy + (b * d.t + t) * d.h;
          const T* ks = k + (t - s) * d.h;
          for (int64_t j = 0; j < d.h; ++j) out[j] += ks[j] * g[j];
        }
      }
    }
  }
  if (dk) {
#pragma omp parallel for schedule(static)
    for (int64_t lag = 0; lag < d.t; ++lag) {
      T* out = dk + lag * d.h;
      for (int64_t b = 0; b < d.b; ++b) {
        for (int64_t t = lag; t < d.t; ++t) {
          const T* g = dy + (b * d.t + t) * d.h;
          const T* us = u + (b * d.t + t - lag) * d.h;
          for (int64_t j = 0; j < d.h; ++j) out[j] += g[j] * us[j];
        }
      }
    }
  }
}

}  // namespace

void CpuBackend::causal_conv_forward(const Tensor& u, const Tensor& kernel, const Tensor& y,
                                     ConvAlgo algo) {
  const char* op = "causal_conv_forward";
  const ConvDims d = check_conv(op, "u", u, kernel);
  require_same_shape(op, "y", y, "u", u);
  require_same_dtype(op, u, y);
  if (d.b == 0 || d.t == 0 || d.h == 0) return;
  dispatch_float(op, u.dtype, [&](auto tag) {
    using T = decltype(tag);
    if (algo == ConvAlgo::fft)
      fft_forward<T>(*this, d, u.as<T>(), kernel.as<T>(), y.as<T>());
    else
      direct_forward<T>(d, u.as<T>(), kernel.as<T>(), y.as<T>());
  });
}

void CpuBackend::causal_conv_backward(const Tensor& dy, const Tensor& u, const Tensor& kernel,
                                      const Tensor& du, const Tensor& dkernel, ConvAlgo algo) {
  const char* op = "causal_conv_backward";
  const ConvDims d = check_conv(op, "u", u, kernel);
  require_same_shape(op, "dy", dy, "u", u);
  require_same_dtype(op, u, dy);
  if (!du.empty()) {
    require_same_shape(op, "du", du, "u", u);
    require_same_dtype(op, u, du);
  }
  if (!dkernel.empty()) {
    require_same_shape(op, "dkernel", dkernel, "kernel", kernel);
    require_same_dtype(op, u, dkernel);
  }
  if (d.b == 0 || d.t == 0 || d.h == 0 || (du.empty() && dkernel.empty())) return;
  dispatch_float(op, u.dtype, [&](auto tag) {
    using T = decltype(tag);
    T* du_p = du.empty() ? nullptr : du.as<T>();
    T* dk_p = dkernel.empty() ? nullptr : dkernel.as<T>();
    if (algo == ConvAlgo::fft)
      fft_backward<T>(*this, d, dy.as<T>(), u.as<T>(), kernel.as<T>(), du_p, dk_p);
    else
      direct_backward<T>(d, dy.as<T>(), u.as<T>(), kernel.as<T>(), du_p, dk_p);
  });
}

}  // namespace pha
