#pragma once
// Deterministic reductions for the .cu files, in double, without atomics: pass 1 writes partial
// sums over a partition fixed by the shapes (launch_plan.h), pass 2 adds them in a fixed order and
// hands each total to a `finish` functor (which adds it into a gradient, or stores it).
#include "core/cuda/cuda_common.cuh"
#include "core/cuda/launch_plan.h"

namespace pha::cuda {

// partial[chunk, c] = sum over the chunk's rows of term(r, c), c < width.
// Block (kColTile, kColThreadsY): lane x owns a column, lanes y interleave the chunk's rows.
template <typename Term>
__global__ void column_partials_kernel(ColumnPlan p, Term term, double* partial) {
  __shared__ double acc[kColThreadsY][kColTile + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColTile + tx;
  const int64_t chunk = blockIdx.y;
  const int64_t r0 = chunk * p.rows_per_chunk;
  const int64_t r1 = r0 + p.rows_per_chunk < p.rows ? r0 + p.rows_per_chunk : p.rows;
  double s = 0;
  if (c < p.width)
    for (int64_t r = r0 + ty; r < r1; r += kColThreadsY) s += term(r, c);
  acc[ty][tx] = s;
  __syncthreads();
  if (ty == 0 && c < p.width) {
    double total = 0;
    for (int y = 0; y < kColThreadsY; ++y) total += acc[y][tx];
    partial[chunk * p.width + c] = total;
  }
}

// finish(c, sum over chunks of partial[chunk, c]), chunks in order.
template <typename Finish>
__global__ void column_finish_kernel(ColumnPlan p, const double* partial, Finish finish) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < p.width;
       c += stride) {
    double s = 0;
    for (int64_t chunk = 0; chunk < p.chunks; ++chunk) s += partial[chunk * p.width + c];
    finish(c, s);
  }
}

// finish(c, sum_r term(r, c)) for c < p.width; partial holds p.partials() doubles.
// term: __device__ double operator()(int64_t r, int64_t c); finish: operator()(int64_t, double).
template <typename Term, typename Finish>
void column_sums(const Launch& l, const char* kernel, const ColumnPlan& p, double* partial,
                 const Term& term, const Finish& finish) {
  if (p.width == 0) return;
  if (p.chunks > 0) {
    const dim3 grid(static_cast<unsigned>(p.col_tiles), static_cast<unsigned>(p.chunks));
    column_partials_kernel<<<grid, dim3(kColTile, kColThreadsY), 0, l.stream>>>(p, term, partial);
    PHA_CUDA_CHECK_LAUNCH(kernel);
  }
  const int64_t blocks = grid_blocks(p.width, l.max_blocks);
  column_finish_kernel<<<static_cast<unsigned>(blocks), kBlock, 0, l.stream>>>(p, partial, finish);
  PHA_CUDA_CHECK_LAUNCH(kernel);
}

// partial[block] = sum of term(i) over the block's contiguous range.
template <typename Term>
__global__ void sum_partials_kernel(SumPlan p, Term term, double* partial) {
  __shared__ double shared[32];
  const int64_t i0 = static_cast<int64_t>(blockIdx.x) * p.per_block;
  const int64_t i1 = i0 + p.per_block < p.n ? i0 + p.per_block : p.n;
  double s = 0;
  for (int64_t i = i0 + threadIdx.x; i < i1; i += blockDim.x) s += term(i);
  s = block_sum(s, shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// One block: finish(sum of the partials).
template <typename Finish>
__global__ void sum_finish_kernel(const double* partial, int64_t blocks, Finish finish) {
  __shared__ double shared[32];
  double s = 0;
  for (int64_t i = threadIdx.x; i < blocks; i += blockDim.x) s += partial[i];
  s = block_sum(s, shared);
  if (threadIdx.x == 0) finish(s);
}

// finish(sum of term(i) for i < p.n); finish runs (with 0) also when n is 0. partial holds
// p.blocks doubles. term: __device__ double operator()(int64_t); finish: operator()(double).
template <typename Term, typename Finish>
void full_sum(const Launch& l, const char* kernel, const SumPlan& p, double* partial,
              const Term& term, const Finish& finish) {
  if (p.blocks > 0) {
    sum_partials_kernel<<<static_cast<unsigned>(p.blocks), kSumThreads, 0, l.stream>>>(p, term,
                                                                                       partial);
    PHA_CUDA_CHECK_LAUNCH(kernel);
  }
  sum_finish_kernel<<<1, kSumThreads, 0, l.stream>>>(partial, p.blocks, finish);
  PHA_CUDA_CHECK_LAUNCH(kernel);
}

}  // namespace pha::cuda
