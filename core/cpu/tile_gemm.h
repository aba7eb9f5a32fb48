#pragma once
// A small register-blocked GEMM for the blocks of the CPU attention, whose operands (at most a
// few hundred rows and columns) sit in L1/L2: a BLAS call per block would cost more in packing
// and dispatch than the multiply. kRows rows x kVecs registers of C stay in registers while p
// runs over k, so each load of B serves kRows FMAs and each broadcast of A kVecs.
#include <cstdint>

#include "core/cpu/simd.h"

namespace pha {

namespace tile_gemm_detail {

#ifdef __AVX512F__
inline constexpr int kRows = 6, kVecs = 4;  // 24 accumulators + 4 of B in 32 zmm
#else
inline constexpr int kRows = 6, kVecs = 2;  // 12 accumulators + 2 of B in 16 ymm
#endif

// C[0:kM, 0:kV*width] (+)= sum_p A[i * a_row + p * a_col] B[p * ldb + :].
template <int kM, int kV, typename T>
inline __attribute__((always_inline)) void block(int64_t k, const T* a, int64_t a_row,
                                                 int64_t a_col, const T* b, int64_t ldb, T* c,
                                                 int64_t ldc, bool accumulate) {
  using S = simd::Simd<T>;
  using Vec = typename S::Vec;
  constexpr int64_t w = S::width;
  Vec acc[kM][kV];
#pragma GCC unroll 8
  for (int i = 0; i < kM; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < kV; ++v) acc[i][v] = accumulate ? S::load(c + i * ldc + v * w) : Vec{};
  for (int64_t p = 0; p < k; ++p) {
    Vec bv[kV];
#pragma GCC unroll 8
    for (int v = 0; v < kV; ++v) bv[v] = S::load(b + p * ldb + v * w);
    const T* ap = a + p * a_col;
#pragma GCC unroll 8
    for (int i = 0; i < kM; ++i) {
      const Vec x = S::splat(ap[i * a_row]);
#pragma GCC unroll 8
      for (int v = 0; v < kV; ++v) acc[i][v] += x * bv[v];
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < kM; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < kV; ++v) S::store(c + i * ldc + v * w, acc[i][v]);
}

// All m rows of one column chunk of kV registers: blocks of kRows, then the remainder.
template <int kV, typename T>
void column_chunk(int64_t m, int64_t k, const T* a, int64_t a_row, int64_t a_col, const T* b,
                  int64_t ldb, T* c, int64_t ldc, bool accumulate) {
  int64_t i = 0;
  for (; i + kRows <= m; i += kRows)
    block<kRows, kV>(k, a + i * a_row, a_row, a_col, b, ldb, c + i * ldc, ldc, accumulate);
  a += i * a_row;
  c += i * ldc;
  switch (m - i) {
    case 5:
      block<5, kV>(k, a, a_row, a_col, b, ldb, c, ldc, accumulate);
      break;
    case 4:
      block<4, kV>(k, a, a_row, a_col, b, ldb, c, ldc, accumulate);
      break;
    case 3:
      block<3, kV>(k, a, a_row, a_col, b, ldb, c, ldc, accumulate);
      break;
    case 2:
      block<2, kV>(k, a, a_row, a_col, b, ldb, c, ldc, accumulate);
      break;
    case 1:
      block<1, kV>(k, a, a_row, a_col, b, ldb, c, ldc, accumulate);
      break;
    default:
      break;
  }
  static_assert(kRows == 6, "the remainder cases above assume blocks of 6 rows");
}

}  // namespace tile_gemm_detail

// C[i, j] (+)= sum_p A[i * a_row + p * a_col] B[p * ldb + j] for i < m, j < n, p < k: B and C
// have contiguous rows; A is read one element at a time, so it may be transposed. accumulate:
// add to C, else overwrite it. Columns go in chunks of kVecs registers, then one of 2 (kVecs 4),
// then single registers, then scalars (n not a multiple of the register width).
template <typename T>
void tile_gemm(int64_t m, int64_t n, int64_t k, const T* a, int64_t a_row, int64_t a_col,
               const T* b, int64_t ldb, T* c, int64_t ldc, bool accumulate) {
  using namespace tile_gemm_detail;
  constexpr int64_t w = simd::Simd<T>::width;
  int64_t j = 0;
  for (; j + kVecs * w <= n; j += kVecs * w)
    column_chunk<kVecs>(m, k, a, a_row, a_col, b + j, ldb, c + j, ldc, accumulate);
  if (kVecs > 2 && j + 2 * w <= n) {  // e.g. d_h 32 in f32 under AVX-512
    column_chunk<2>(m, k, a, a_row, a_col, b + j, ldb, c + j, ldc, accumulate);
    j += 2 * w;
  }
  for (; j + w <= n; j += w)
    column_chunk<1>(m, k, a, a_row, a_col, b + j, ldb, c + j, ldc, accumulate);
  for (; j < n; ++j)
    for (int64_t i = 0; i < m; ++i) {
      T acc = accumulate ? c[i * ldc + j] : T(0);
      for (int64_t p = 0; p < k; ++p) acc += a[i * a_row + p * a_col] * b[p * ldb + j];
      c[i * ldc + j] = acc;
    }
}

}  // namespace pha
