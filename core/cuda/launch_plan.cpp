// Launch geometry of the CUDA kernels (see launch_plan.h). No CUDA or fmt: tested on any machine.
#include "core/cuda/launch_plan.h"

#include <algorithm>

#include "core/cuda/cuda_kernels.h"

namespace pha::cuda {

namespace {

constexpr int64_t kMinRowsPerChunk = 32;  // rows a column-reduction chunk sums at least
constexpr int64_t kMaxChunks = 256;       // at most this many partial rows per reduction
constexpr int64_t kMinPerBlock = 4 * kSumThreads;
constexpr int64_t kMaxSumBlocks = 1024;

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

}  // namespace

int row_threads(int64_t cols) {
  const int64_t want = ceil_div(std::max<int64_t>(cols, 1), 4);
  return static_cast<int>(std::clamp<int64_t>(ceil_div(want, 32) * 32, 32, 1024));
}

ColumnPlan plan_columns(int64_t rows, int64_t width) {
  ColumnPlan p;
  p.rows = rows;
  p.width = width;
  p.rows_per_chunk = std::max(kMinRowsPerChunk, ceil_div(rows, kMaxChunks));
  p.chunks = rows == 0 ? 0 : ceil_div(rows, p.rows_per_chunk);
  p.col_tiles = ceil_div(width, kColTile);
  return p;
}

SumPlan plan_sum(int64_t n) {
  SumPlan p;
  p.n = n;
  if (n == 0) return p;
  p.blocks = std::min(kMaxSumBlocks, ceil_div(n, kMinPerBlock));
  p.per_block = ceil_div(n, p.blocks);
  p.blocks = ceil_div(n, p.per_block);  // no empty trailing block
  return p;
}

AttentionPlan plan_attention(int64_t seq, int64_t d_h, int elem_bytes) {
  AttentionPlan p;
  p.d_max = d_h <= 64 ? 64 : 128;
  p.keys_fwd = elem_bytes == 8 ? 32 : 64;
  p.q_tiles = ceil_div(seq, kAttnRows);
  p.k_tiles = ceil_div(seq, kAttnKeys);
  const size_t ld = static_cast<size_t>(d_h) + 1, e = static_cast<size_t>(elem_bytes);
  const size_t rows = kAttnRows, keys = static_cast<size_t>(p.keys_fwd), kv = kAttnKeys;
  // forward: q [rows, ld], one k-or-v tile [keys, ld], probabilities [rows, keys + 1]
  p.smem_fwd = (rows * ld + keys * ld + rows * (keys + 1)) * e;
  // dq: q and dout [rows, ld], k and v [keys, ld], dscores [rows, keys + 1]
  p.smem_dq = (2 * rows * ld + 2 * keys * ld + rows * (keys + 1)) * e;
  // dk/dv: k and v [kv, ld], q and dout [rows, ld], p^T and ds^T [kv, rows + 1], lse and D [rows]
  p.smem_dkv = (2 * kv * ld + 2 * rows * ld + 2 * kv * (rows + 1) + 2 * rows) * e;
  return p;
}

int64_t conv_fft_size(int64_t t) {
  for (int64_t m = std::max<int64_t>(2 * t, 1);; ++m) {
    int64_t r = m;
    for (int64_t f : {2, 3, 5})
      while (r % f == 0) r /= f;
    if (r == 1) return m;
  }
}

int64_t grid_blocks(int64_t n, int64_t max_blocks) {
  return std::min<int64_t>(ceil_div(n, kBlock), max_blocks);
}

}  // namespace pha::cuda
