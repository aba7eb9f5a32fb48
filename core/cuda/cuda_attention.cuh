#pragma once
// Shared pieces of the flash-attention kernels (cuda_attention_fwd.cu, cuda_attention_bwd.cu):
// tensor offsets, the causal/window mask and tile loads into shared memory. Tiles are row-major
// with rows of ld = d_h + 1 elements (see launch_plan.h).
#include "core/cuda/cuda_common.cuh"
#include "core/cuda/launch_plan.h"
#include "core/math/attention.h"

namespace pha::cuda {

struct AttnIndex {
  AttentionShape s;
  int64_t group;  // query heads per kv head
  // q, out, dout [B, T, n_q, d_h]; k, v [B, T, n_kv, d_h]; lse [B, n_q, T].
  __device__ int64_t q_at(int64_t b, int64_t t, int64_t j) const {
    return ((b * s.seq + t) * s.n_q + j) * s.d_h;
  }
  __device__ int64_t kv_at(int64_t b, int64_t t, int64_t g) const {
    return ((b * s.seq + t) * s.n_kv + g) * s.d_h;
  }
  __device__ int64_t row_at(int64_t b, int64_t j, int64_t t) const {
    return (b * s.n_q + j) * s.seq + t;
  }
  // Query position t sees key position key.
  __device__ bool visible(int64_t t, int64_t key) const {
    return t < s.seq && key <= t && key >= attention_first_key(t, s.window);
  }
};

// tile[r, :d_h] = scale * src[row r + first] (head `head`), r < rows; 0 past the sequence end.
// kv: src is k or v ([.., n_kv, d_h]), else q-like ([.., n_q, d_h]).
template <typename S, typename C>
__device__ void load_tile(const AttnIndex& ix, const S* src, bool kv, int64_t b, int64_t head,
                          int64_t first, int rows, C scale, C* tile) {
  const int64_t d_h = ix.s.d_h, ld = d_h + 1;
  for (int64_t e = threadIdx.x; e < rows * d_h; e += blockDim.x) {
    const int64_t r = e / d_h, i = e % d_h, t = first + r;
    C v = C(0);
    if (t < ix.s.seq)
      v = scale * static_cast<C>(load(src, (kv ? ix.kv_at(b, t, head) : ix.q_at(b, t, head)) + i));
    tile[r * ld + i] = v;
  }
}

// lse or delta of rows [first, first + rows) of head j into `out` (0 past the sequence end).
template <typename C>
__device__ void load_row_values(const AttnIndex& ix, const C* src, int64_t b, int64_t j,
                                int64_t first, int rows, C* out) {
  for (int r = threadIdx.x; r < rows; r += blockDim.x)
    out[r] = first + r < ix.s.seq ? src[ix.row_at(b, j, first + r)] : C(0);
}

// Dynamic shared memory as the compute type (aligned for double).
template <typename C>
__device__ C* shared_tiles() {
  extern __shared__ double attention_smem[];
  return reinterpret_cast<C*>(attention_smem);
}

}  // namespace pha::cuda
