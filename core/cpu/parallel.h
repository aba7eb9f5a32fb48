#pragma once
// Loop helpers shared by the CPU op families: OpenMP loops that only start threads when the work
// pays for them, and reductions in double over partitions fixed by the sizes alone, so results do
// not depend on the thread count (bit-exact resume needs that).
#include <algorithm>
#include <cstdint>

namespace pha::cpu {

constexpr int64_t kParallelMin = 1 << 15;  // elements below which threads cost more than they save
constexpr int64_t kParts = 64;             // fixed ranges of a full reduction
constexpr int64_t kColBlock = 16;          // columns per task of a column reduction

template <typename F>
void parallel_for(int64_t n, F&& f) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) f(i);
}

// f(r) for each row of a [rows, cols] tensor.
template <typename F>
void for_rows(int64_t rows, int64_t cols, F&& f) {
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r) f(r);
}

// sum of term(i) over [0, n): kParts fixed ranges summed in double, then combined in order.
template <typename F>
double reduce(int64_t n, F&& term) {
  double part[kParts] = {};
  const int64_t len = (n + kParts - 1) / kParts;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t p = 0; p < kParts; ++p) {
    double s = 0;
    const int64_t end = std::min(n, (p + 1) * len);
    for (int64_t i = p * len; i < end; ++i) s += term(i);
    part[p] = s;
  }
  double total = 0;
  for (double s : part) total += s;
  return total;
}

// out[c] += sum over r of term(r, c), rows x cols: each task owns a block of columns and sums
// its rows in order in double, so no two threads write one output.
template <typename T, typename F>
void column_sums(int64_t rows, int64_t cols, T* out, F&& term) {
  const int64_t blocks = (cols + kColBlock - 1) / kColBlock;
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMin)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kColBlock, width = std::min(kColBlock, cols - c0);
    double acc[kColBlock] = {};
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < width; ++j) acc[j] += term(r, c0 + j);
    for (int64_t j = 0; j < width; ++j) out[c0 + j] += static_cast<T>(acc[j]);
  }
}

// One pass over the rows of a [rows, cols] tensor that also sums: body(r0, r1, acc) handles rows
// [r0, r1) and adds its share of `width` sums into acc [width] (double, zeroed). The rows go in
// kParts fixed ranges, one task each, whose sums (partial [kParts, width], the caller's scratch)
// are then added into out[j] in range order: so the sums do not depend on the thread count, and
// an op that both updates rows and sums over them reads each row once, in one parallel region.
template <typename T, typename F>
void row_pass_with_sums(int64_t rows, int64_t cols, int64_t width, double* partial, T* out,
                        F&& body) {
  const int64_t len = (rows + kParts - 1) / kParts;
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMin)
  for (int64_t p = 0; p < kParts; ++p) {
    double* acc = partial + p * width;
    std::fill(acc, acc + width, 0.0);
    const int64_t r0 = std::min(rows, p * len), r1 = std::min(rows, (p + 1) * len);
    if (r0 < r1) body(r0, r1, acc);
  }
  if (out == nullptr) return;
  for (int64_t j = 0; j < width; ++j) {
    double s = 0;
    for (int64_t p = 0; p < kParts; ++p) s += partial[p * width + j];
    out[j] += static_cast<T>(s);
  }
}

}  // namespace pha::cpu
