// The CUDA kernels' launch geometry (core/cuda/launch_plan.h), checked on the host: these run on
// machines without a GPU too. The partitions must cover every row or element exactly once, depend
// on the shapes only, and the attention tiles must fit the shared memory of one block.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "core/cuda/launch_plan.h"

namespace pha::cuda {
namespace {

TEST(cuda_plan, RowThreads) {
  EXPECT_EQ(row_threads(1), 32);
  EXPECT_EQ(row_threads(203), 64);
  EXPECT_EQ(row_threads(768), 192);
  EXPECT_EQ(row_threads(50304), 1024);
  for (int64_t c : {1, 31, 129, 4097, 1000000}) EXPECT_EQ(row_threads(c) % 32, 0) << c;
}

// Every row lands in exactly one chunk, chunks in order, at most 256 of them.
TEST(cuda_plan, ColumnChunksCoverEveryRowOnce) {
  for (int64_t rows : {0, 1, 31, 32, 33, 700, 8192, 100000, 1234567}) {
    const ColumnPlan p = plan_columns(rows, 77);
    EXPECT_LE(p.chunks, 256) << rows;
    std::vector<int> seen(static_cast<size_t>(rows), 0);
    for (int64_t c = 0; c < p.chunks; ++c) {
      const int64_t r0 = c * p.rows_per_chunk, r1 = std::min(rows, r0 + p.rows_per_chunk);
      EXPECT_LT(r0, r1) << "empty chunk " << c << " of " << rows;
      for (int64_t r = r0; r < r1; ++r) ++seen[static_cast<size_t>(r)];
    }
    for (int64_t r = 0; r < rows; ++r) ASSERT_EQ(seen[static_cast<size_t>(r)], 1) << r;
    EXPECT_EQ(p.col_tiles, (77 + kColTile - 1) / kColTile);
    EXPECT_EQ(p.partials(), p.chunks * 77);
  }
}

TEST(cuda_plan, SumBlocksCoverEveryElementOnce) {
  for (int64_t n : {0, 1, 1023, 1024, 1025, 12345, 5000000, 300000000}) {
    const SumPlan p = plan_sum(n);
    EXPECT_LE(p.blocks, 1024) << n;
    if (n == 0) {
      EXPECT_EQ(p.blocks, 0);
      continue;
    }
    EXPECT_GE(p.blocks * p.per_block, n) << n;
    EXPECT_LT((p.blocks - 1) * p.per_block, n) << "an empty last block for " << n;
  }
}

TEST(cuda_plan, AttentionTilesFitSharedMemory) {
  for (int64_t d_h = 1; d_h <= kAttnMaxHead; ++d_h) {
    for (int bytes : {4, 8}) {
      const AttentionPlan p = plan_attention(1000, d_h, bytes);
      EXPECT_LE(p.smem_fwd, kMaxSharedBytes) << d_h << " " << bytes;
      EXPECT_LE(p.smem_dq, kMaxSharedBytes) << d_h << " " << bytes;
      EXPECT_LE(p.smem_dkv, kMaxSharedBytes) << d_h << " " << bytes;
      EXPECT_GE(p.d_max, d_h);
      EXPECT_EQ(p.keys_fwd, bytes == 8 ? 32 : 64);
    }
  }
  const AttentionPlan p = plan_attention(77, 64, 4);
  EXPECT_EQ(p.q_tiles, 3);
  EXPECT_EQ(p.k_tiles, 3);
  EXPECT_EQ(p.d_max, 64);
  // forward: q [32, 65], k [64, 65], p [32, 65] floats.
  EXPECT_EQ(p.smem_fwd, (32u * 65 + 64u * 65 + 32u * 65) * 4);
  // Each thread's 4-way split of rows, keys and dims needs these divisibilities.
  EXPECT_EQ(kAttnThreads, kAttnRows * 4);
  EXPECT_EQ(kAttnThreads, kAttnKeys * 4);
}

TEST(cuda_plan, ConvFftSize) {
  for (int64_t t : {1, 2, 3, 7, 37, 300, 1000, 1024, 2049, 4096}) {
    const int64_t n = conv_fft_size(t);
    EXPECT_GE(n, 2 * t);
    int64_t r = n;
    for (int64_t f : {2, 3, 5})
      while (r % f == 0) r /= f;
    EXPECT_EQ(r, 1) << n;
    for (int64_t m = 2 * t; m < n; ++m) {  // the smallest such length
      int64_t q = m;
      for (int64_t f : {2, 3, 5})
        while (q % f == 0) q /= f;
      EXPECT_NE(q, 1) << m << " < " << n;
    }
  }
  EXPECT_EQ(conv_fft_size(1024), 2048);
  EXPECT_EQ(conv_fft_size(300), 600);
}

}  // namespace
}  // namespace pha::cuda
