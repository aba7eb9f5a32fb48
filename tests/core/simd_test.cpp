// The CPU kernels' SIMD helpers (core/cpu/simd.h): splat, transpose and exp, lane by lane.
#include "core/cpu/simd.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>
#include <vector>

namespace pha {
namespace {

template <typename T>
void expect_every_lane_is(typename simd::Simd<T>::Vec v, T x) {
  for (int64_t u = 0; u < simd::Simd<T>::width; ++u) {
    // Bitwise: -0 must stay -0, and a NaN must stay a NaN.
    if (std::isnan(x)) {
      EXPECT_TRUE(std::isnan(v[u])) << "lane " << u;
    } else {
      EXPECT_EQ(std::bit_cast<typename simd::Simd<T>::Int>(v[u]),
                std::bit_cast<typename simd::Simd<T>::Int>(x))
          << "lane " << u << " of splat(" << x << ") holds " << v[u];
    }
  }
}

template <typename T>
void check_splat() {
  std::mt19937 rng(7);
  std::uniform_real_distribution<T> uniform(-3, 3);
  for (T x : {T(-0.0), T(0), T(1.5), std::numeric_limits<T>::denorm_min(),
              -std::numeric_limits<T>::infinity(), std::numeric_limits<T>::quiet_NaN(),
              uniform(rng), uniform(rng)})
    expect_every_lane_is<T>(simd::Simd<T>::splat(x), x);
}

TEST(Simd, SplatSetsEveryLaneBitForBit) {
  check_splat<float>();
  check_splat<double>();
}

TEST(Simd, TransposeMovesEveryElement) {
  using S = simd::Simd<float>;
  constexpr int64_t w = S::width;
  S::Vec block[w];
  for (int64_t i = 0; i < w; ++i)
    for (int64_t j = 0; j < w; ++j) block[i][j] = static_cast<float>(100 * i + j) + 0.25f;
  S::transpose(block);
  for (int64_t i = 0; i < w; ++i)
    for (int64_t j = 0; j < w; ++j)
      EXPECT_EQ(block[i][j], static_cast<float>(100 * j + i) + 0.25f) << i << ", " << j;
}

TEST(Simd, ExpIsWithinTwoUlpOverItsRange) {
  using S = simd::Simd<float>;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> uniform(-87.0f, 88.0f);
  for (int trial = 0; trial < 2000; ++trial) {
    S::Vec x;
    for (int64_t u = 0; u < S::width; ++u) x[u] = uniform(rng);
    const S::Vec e = simd::exp(x);
    for (int64_t u = 0; u < S::width; ++u) {
      const float want = static_cast<float>(std::exp(static_cast<double>(x[u])));
      const float ulp = std::nextafter(want, INFINITY) - want;
      EXPECT_LE(std::abs(e[u] - want), 2 * ulp) << "exp(" << x[u] << ")";
    }
  }
}

// The double dot of whole tensors: every length's tail (odd lengths, shorter than one register)
// against an in-order double sum; float inputs are widened exactly, so only the order differs.
template <typename T>
void check_dot_f64() {
  std::mt19937 rng(5);
  std::uniform_real_distribution<T> uniform(-2, 2);
  for (int64_t n : {0, 1, 3, 7, 15, 16, 33, 1001}) {
    std::vector<T> a(static_cast<size_t>(n)), b(a.size());
    for (T& x : a) x = uniform(rng);
    for (T& x : b) x = uniform(rng);
    double want = 0, scale = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      want += static_cast<double>(a[i]) * static_cast<double>(b[i]);
      scale += std::abs(static_cast<double>(a[i]) * static_cast<double>(b[i]));
    }
    EXPECT_NEAR(simd::dot_f64(a.data(), b.data(), n), want, 1e-14 * scale + 1e-300) << "n " << n;
  }
}

TEST(Simd, DotInDoubleMatchesAnInOrderSum) {
  check_dot_f64<float>();
  check_dot_f64<double>();
}

}  // namespace
}  // namespace pha
