#pragma once
// SIMD registers for the CPU backend's own kernels (GCC vector extensions): one register of the
// widest kind the build's -march allows (AVX-512: 64 bytes, else 32: AVX2), lane masks, and a
// vectorised exp. Loads and stores go through memcpy, so nothing needs to be aligned.
#include <cmath>
#include <cstdint>
#include <cstring>
#if defined(__AVX__)
#include <immintrin.h>
#endif
#include <limits>
#include <type_traits>

namespace pha::simd {

#ifdef __AVX512F__
inline constexpr int kBytes = 64;
#else
inline constexpr int kBytes = 32;
#endif

template <typename T>
struct Simd {
  // Lane-sized integers: comparisons of Vec give IVec masks (all ones or zero per lane).
  using Int = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
  typedef T Vec __attribute__((vector_size(kBytes)));
  typedef Int IVec __attribute__((vector_size(kBytes)));
  static constexpr int64_t width = kBytes / static_cast<int64_t>(sizeof(T));

  static Vec load(const T* p) {
    Vec v;
    std::memcpy(&v, p, sizeof(Vec));
    return v;
  }
  static void store(T* p, Vec v) { std::memcpy(p, &v, sizeof(Vec)); }
  static IVec load(const Int* p) {
    IVec v;
    std::memcpy(&v, p, sizeof(IVec));
    return v;
  }
  // Every lane x, by the broadcast intrinsic where there is one. Not Vec{} + x: that add is no
  // identity for x = -0 under strict IEEE, so GCC kept it (an add and a register shuffle per
  // splat in tile_gemm's inner loop, where one broadcast load does: 50 -> 80+ GFLOP/s per core on
  // Zen 3); a lane-by-lane fill became xmm broadcasts and inserts there.
  static Vec splat(T x) {
#if defined(__AVX512F__)
    if constexpr (sizeof(T) == 4) return reinterpret_cast<Vec>(_mm512_set1_ps(x));
    if constexpr (sizeof(T) == 8) return reinterpret_cast<Vec>(_mm512_set1_pd(x));
#elif defined(__AVX__)
    if constexpr (sizeof(T) == 4) return reinterpret_cast<Vec>(_mm256_set1_ps(x));
    if constexpr (sizeof(T) == 8) return reinterpret_cast<Vec>(_mm256_set1_pd(x));
#endif
    Vec v;
    for (int64_t u = 0; u < width; ++u) v[u] = x;
    return v;
  }
  static IVec splat_int(Int x) {
    return IVec{} + x;
  }  // an integer + 0 folds away
  static Vec max(Vec a, Vec b) {
    return a > b ? a : b;
  }
  static T sum(Vec v) {
    T s = 0;
    for (int64_t u = 0; u < width; ++u) s += v[u];
    return s;
  }
  static Vec minus_infinity() {
    return splat(-std::numeric_limits<T>::infinity());
  }

  // Transposes the width x width block v[0..width) (v[i]: row i) in place: log2(width) rounds,
  // each interleaving row i with row i + width/2 into rows 2i (low halves) and 2i + 1 (high).
  static void transpose(Vec* v) {
    constexpr int64_t h = width / 2;
    IVec lo, hi;  // lane masks of __builtin_shuffle: 0..width-1 pick from a, width.. from b
    for (int64_t u = 0; u < h; ++u) {
      lo[2 * u] = static_cast<Int>(u);
      lo[2 * u + 1] = static_cast<Int>(u + width);
      hi[2 * u] = static_cast<Int>(u + h);
      hi[2 * u + 1] = static_cast<Int>(u + h + width);
    }
    for (int64_t step = 1; step < width; step *= 2) {
      Vec t[width];
#pragma GCC unroll 16
      for (int64_t i = 0; i < h; ++i) {
        t[2 * i] = __builtin_shuffle(v[i], v[i + h], lo);
        t[2 * i + 1] = __builtin_shuffle(v[i], v[i + h], hi);
      }
#pragma GCC unroll 16
      for (int64_t i = 0; i < width; ++i) v[i] = t[i];
    }
  }
};

// sum_i a[i] b[i], in one register of partial sums (an in-order scalar sum would chain the adds'
// latencies), then the tail.
template <typename T>
T dot(const T* a, const T* b, int64_t n) {
  using S = Simd<T>;
  typename S::Vec acc{};
  int64_t i = 0;
  for (; i + S::width <= n; i += S::width) acc += S::load(a + i) * S::load(b + i);
  T s = S::sum(acc);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// sum_i a[i] b[i] in double, for sums over whole tensors: each register of T is widened to two
// of double, and four accumulators hide the FMA's latency. `#pragma omp simd reduction` over a
// double sum ran at 8.5 GB/s on Zen 3 (its lane-private copies go through memory); this, 25+.
template <typename T>
double dot_f64(const T* a, const T* b, int64_t n) {
  using D = Simd<double>;
  constexpr int64_t w = D::width;  // doubles per register: T elements widened per step
  typedef T Narrow __attribute__((vector_size(w * sizeof(T))));
  auto widen = [](const T* p) {
    Narrow v;
    std::memcpy(&v, p, sizeof(Narrow));
    return __builtin_convertvector(v, D::Vec);
  };
  D::Vec acc[4] = {};
  int64_t i = 0;
  for (; i + 4 * w <= n; i += 4 * w)
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) acc[u] += widen(a + i + u * w) * widen(b + i + u * w);
  for (; i + w <= n; i += w) acc[0] += widen(a + i) * widen(b + i);
  double s = D::sum((acc[0] + acc[1]) + (acc[2] + acc[3]));
  for (; i < n; ++i) s += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return s;
}

// n rounded up to whole registers of T.
template <typename T>
constexpr int64_t padded(int64_t n) {
  return (n + Simd<T>::width - 1) / Simd<T>::width * Simd<T>::width;
}

// exp(x) per lane with Cephes' expf polynomial (glibc's expf is vectorised only under
// -ffast-math): about 1 ulp for x in [-87, 88]; x is clamped to that range, so exp(-inf) gives
// 1.6e-38 (callers mask lanes that must be exactly 0).
inline Simd<float>::Vec exp(Simd<float>::Vec x) {
  using S = Simd<float>;
  const S::Vec lo = S::splat(-87.0f), hi = S::splat(88.0f);
  x = x < lo ? lo : x;
  x = x > hi ? hi : x;
  // x = k ln 2 + r, k = round(x / ln 2) by the 1.5 * 2^23 trick, ln 2 split in two parts.
  const S::Vec k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const S::Vec r = x - k * 0.693359375f + k * 2.12194440e-4f;
  S::Vec e = S::splat(1.9875691500e-4f);
  e = e * r + 1.3981999507e-3f;
  e = e * r + 8.3334519073e-3f;
  e = e * r + 4.1665795894e-2f;
  e = e * r + 1.6666665459e-1f;
  e = e * r + 5.0000001201e-1f;
  e = e * r * r + r + 1.0f;
  const S::IVec bits = (__builtin_convertvector(k, S::IVec) + 127) << 23;  // 2^k
  S::Vec scale;
  std::memcpy(&scale, &bits, sizeof(S::Vec));
  return e * scale;
}

// f64 serves the gradient checks: std::exp per lane, exact to the library's rounding.
inline Simd<double>::Vec exp(Simd<double>::Vec x) {
  for (int64_t u = 0; u < Simd<double>::width; ++u) x[u] = std::exp(x[u]);
  return x;
}

}  // namespace pha::simd
