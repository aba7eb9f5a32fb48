#pragma once
// Row kernels of the CPU cross-entropy, shared by the fused ops (cpu_cross_entropy.cpp) and the
// vocab-parallel ones (cpu_vocab_parallel.cpp), so that one shard of the latter repeats the former
// step for step. f32 rows run on whole registers: the exps come from simd::exp (Cephes, ~1 ulp)
// for every element, the row's tail included (padded, its extra lanes dropped), and are summed in
// double lanes; f64 rows (the gradient checks) use std::exp per element. Each row is one serial
// loop, so results do not depend on the thread count.
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "core/cpu/simd.h"
#include "core/math/cross_entropy.h"

namespace pha::cpu {

// max_j row[j] over row[0, n), n > 0 (max is exact: any order gives the same value).
template <typename T>
T row_max(const T* row, int64_t n) {
  using S = simd::Simd<T>;
  if (n < S::width) return *std::max_element(row, row + n);
  typename S::Vec m = S::load(row);
  int64_t i = S::width;
  for (; i + S::width <= n; i += S::width) m = S::max(m, S::load(row + i));
  T out = m[0];
  for (int64_t u = 1; u < S::width; ++u) out = std::max(out, m[u]);
  for (; i < n; ++i) out = std::max(out, row[i]);
  return out;
}

// Calls f(i, e) for each register-wide block of row[0, n) from i, with e = exp(row - shift) on
// every lane; lanes at or past n in the last block hold exps of `shift - shift` (1): f must ignore
// them (`valid` lanes are given).
template <typename F>
void for_exp_blocks(const float* row, int64_t n, float shift, F&& f) {
  using S = simd::Simd<float>;
  int64_t i = 0;
  for (; i + S::width <= n; i += S::width) f(i, simd::exp(S::load(row + i) - shift), S::width);
  if (i == n) return;
  float tail[S::width];
  std::fill(tail, tail + S::width, shift);
  std::copy(row + i, row + n, tail);
  f(i, simd::exp(S::load(tail) - shift), n - i);
}

// sum_j exp(row[j] - shift) in double.
template <typename T>
double row_sum_exp(const T* row, int64_t n, T shift) {
  if constexpr (std::is_same_v<T, float>) {
    constexpr int64_t w = simd::Simd<float>::width;
    double lanes[w] = {};
    for_exp_blocks(row, n, shift, [&](int64_t, simd::Simd<float>::Vec e, int64_t valid) {
      for (int64_t u = 0; u < valid; ++u) lanes[u] += static_cast<double>(e[u]);
    });
    double s = 0;
    for (int64_t u = 0; u < w; ++u) s += lanes[u];
    return s;
  } else {
    double s = 0;
    for (int64_t j = 0; j < n; ++j) s += std::exp(row[j] - shift);
    return s;
  }
}

// out[j] = exp(in[j] - lse) * scale, minus scale at column `target_col` (-1: none): the scaled
// softmax gradient of a counted row, rounded in T in two steps as softmax_xent_grad. Each element
// is read before it is written, so out may alias in.
template <typename T>
void row_softmax_grad(const T* in, T* out, int64_t n, T lse, T scale, int64_t target_col) {
  if constexpr (std::is_same_v<T, float>) {
    for_exp_blocks(in, n, lse, [&](int64_t i, simd::Simd<float>::Vec e, int64_t valid) {
      const simd::Simd<float>::Vec g = e * scale;
      if (valid == simd::Simd<float>::width)
        simd::Simd<float>::store(out + i, g);
      else
        for (int64_t u = 0; u < valid; ++u) out[i + u] = g[u];
    });
    if (target_col >= 0) out[target_col] -= scale;
  } else {
    for (int64_t j = 0; j < n; ++j) out[j] = softmax_xent_grad(in[j], lse, scale, j == target_col);
  }
}

}  // namespace pha::cpu
