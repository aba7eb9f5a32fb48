#pragma once
// Launch geometry and scratch sizes of the CUDA kernels, as plain host functions of the shapes, so
// that tests check them without a GPU. None depends on the GPU model: the partition of every
// reduction is fixed by the shapes alone, which keeps results identical on any GPU.
// fmt-free (included by .cu files).
#include <cstddef>
#include <cstdint>

namespace pha::cuda {

// Row kernels (norms, softmax, cross-entropy): one block per row of `cols` elements, about four
// elements per thread; a multiple of 32 in [32, 1024].
int row_threads(int64_t cols);

// Column reductions out[c] (+)= sum_r term(r, c) over [rows, width]: pass 1 sums fixed chunks of
// rows into partials [chunks, width] (blocks of kColTile columns x kColThreadsY row lanes), pass 2
// adds the chunks in order.
constexpr int kColTile = 32;
constexpr int kColThreadsY = 8;
struct ColumnPlan {
  int64_t rows = 0, width = 0;
  int64_t rows_per_chunk = 1, chunks = 0, col_tiles = 0;
  int64_t partials() const { return chunks * width; }  // doubles of scratch
};
ColumnPlan plan_columns(int64_t rows, int64_t width);

// Full reductions of n terms: pass 1 gives `blocks` contiguous ranges of `per_block` terms to
// blocks of kSumThreads, pass 2 sums the block partials in one block.
constexpr int kSumThreads = 256;
struct SumPlan {
  int64_t n = 0, blocks = 0, per_block = 0;
};
SumPlan plan_sum(int64_t n);

// Flash attention (cuda_attention_*.cu): kAttnThreads threads per block; a forward / dq block
// holds kAttnRows query rows and walks keys in tiles of `keys_fwd`; a dk/dv block holds
// kAttnKeys keys and walks query tiles of kAttnRows rows. Thread i works on row (or key) i / 4
// and every fourth column from i % 4. Shared memory tiles have rows of d_h + 1 (no bank
// conflicts on column walks).
constexpr int kAttnThreads = 128;
constexpr int kAttnRows = 32;
constexpr int kAttnKeys = 32;
constexpr int64_t kAttnMaxHead = 128;
struct AttentionPlan {
  int d_max = 64;                    // register tiles sized for d_h <= d_max (64 or 128)
  int keys_fwd = 64;                 // key tile of the forward and dq kernels (32 for f64)
  int64_t q_tiles = 0, k_tiles = 0;  // ceil(T / kAttnRows), ceil(T / kAttnKeys)
  size_t smem_fwd = 0, smem_dq = 0, smem_dkv = 0;  // dynamic shared memory, bytes
};
// elem_bytes: 4 (f32, bf16: computed in f32) or 8 (f64). Requires 1 <= d_h <= kAttnMaxHead.
AttentionPlan plan_attention(int64_t seq, int64_t d_h, int elem_bytes);
// The most dynamic shared memory a block may use on the GPUs pha targets (sm_80 and newer, 227 KiB
// on sm_90).
constexpr size_t kMaxSharedBytes = 227 * 1024;

// The causal convolution's FFT length: the smallest 2^a 3^b 5^c >= 2T (as the CPU backend), so the
// circular products never wrap.
int64_t conv_fft_size(int64_t t);

// Blocks of a grid-stride loop over n elements: ceil(n / kBlock), at most max_blocks.
int64_t grid_blocks(int64_t n, int64_t max_blocks);

}  // namespace pha::cuda
