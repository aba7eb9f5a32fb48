// Flash-attention forward (Dao et al.): a block takes kAttnRows query rows of one head and walks
// the key tiles they can see, keeping a running max and sum per row (online softmax), so the
// [T, T] scores never exist and memory is O(T). Saves lse [B, n_q, T] for the backward.
//
// Thread i of the block owns query row r = i / 4 and, of each key tile, the columns
// i % 4 + 4 kk; the four threads of a row combine their maxima and sums with two shuffles. The
// output row lives in registers, split the same way over the head dims (d = i % 4 + 4 m).
#include "core/cuda/cuda_attention.cuh"

namespace pha::cuda {

namespace {

// Combines a value over the four threads of a row (lanes 4r .. 4r + 3 of a warp).
template <typename C>
__device__ C row_sum4(C v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
}
template <typename C>
__device__ C row_max4(C v) {
  v = max(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return max(v, __shfl_xor_sync(0xffffffffu, v, 2));
}

// grid (q_tiles, n_q, B), kAttnThreads threads; shared: q [rows, ld], k-or-v [BK, ld],
// p [rows, BK + 1].
template <typename S, typename C, int DMAX, int BK>
__global__ void __launch_bounds__(kAttnThreads)
    attention_forward_kernel(AttnIndex ix, const S* q, const S* k, const S* v, S* out, C* lse) {
  constexpr int kCols = BK / 4, kDims = DMAX / 4;
  const int64_t d_h = ix.s.d_h, ld = d_h + 1;
  C* qs = shared_tiles<C>();
  C* kv = qs + kAttnRows * ld;
  C* ps = kv + BK * ld;
  const int tid = threadIdx.x, r = tid >> 2, part = tid & 3;
  // Late query tiles see the most keys: they start first.
  const int64_t q0 = (static_cast<int64_t>(gridDim.x) - 1 - blockIdx.x) * kAttnRows;
  const int64_t j = blockIdx.y, b = blockIdx.z, g = j / ix.group;
  const int64_t t = q0 + r;
  load_tile(ix, q, false, b, j, q0, kAttnRows, attention_scale<C>(d_h), qs);

  C m = neg_infinity<C>(), l = C(0);
  C o[kDims];
  for (int i = 0; i < kDims; ++i) o[i] = C(0);
  const int64_t k_end = min(ix.s.seq, q0 + kAttnRows);  // past the tile's last query
  for (int64_t k0 = attention_first_key(q0, ix.s.window) / BK * BK; k0 < k_end; k0 += BK) {
    __syncthreads();  // the previous tile's readers of kv and ps are done
    load_tile(ix, k, true, b, g, k0, BK, C(1), kv);
    __syncthreads();
    C s[kCols];
    for (int c = 0; c < kCols; ++c) s[c] = C(0);
    for (int64_t i = 0; i < d_h; ++i) {
      const C qv = qs[r * ld + i];
      for (int c = 0; c < kCols; ++c) s[c] += qv * kv[(part + 4 * c) * ld + i];
    }
    C tile_max = neg_infinity<C>();
    for (int c = 0; c < kCols; ++c) {
      if (!ix.visible(t, k0 + part + 4 * c)) s[c] = neg_infinity<C>();
      tile_max = max(tile_max, s[c]);
    }
    const C m_new = max(m, row_max4(tile_max));
    // Nothing visible yet (m_new = -inf): keep the state; else rescale it to the new max.
    const C alpha = m_new == neg_infinity<C>() ? C(1) : exp(m - m_new);
    C sum = C(0);
    for (int c = 0; c < kCols; ++c) {
      const C p = s[c] == neg_infinity<C>() ? C(0) : exp(s[c] - m_new);
      ps[r * (BK + 1) + part + 4 * c] = p;
      sum += p;
    }
    l = l * alpha + row_sum4(sum);
    m = m_new;
    for (int i = 0; i < kDims; ++i) o[i] *= alpha;
    __syncthreads();  // every thread is done with the keys; ps is complete
    load_tile(ix, v, true, b, g, k0, BK, C(1), kv);
    __syncthreads();
    for (int c = 0; c < BK; ++c) {
      const C p = ps[r * (BK + 1) + c];
      for (int i = 0; i < kDims; ++i) {
        const int64_t dim = part + 4 * i;
        if (dim < d_h) o[i] += p * kv[c * ld + dim];
      }
    }
  }
  if (t >= ix.s.seq) return;
  const C inv = C(1) / l;
  const int64_t at = ix.q_at(b, t, j);
  for (int i = 0; i < kDims; ++i) {
    const int64_t dim = part + 4 * i;
    if (dim < d_h) store(out, at + dim, o[i] * inv);
  }
  if (part == 0) lse[ix.row_at(b, j, t)] = m + log(l);
}

template <typename S, typename C, int DMAX, int BK>
void launch_forward(const Launch& l, const AttnIndex& ix, const AttentionPlan& p, const void* q,
                    const void* k, const void* v, void* out, void* lse) {
  const auto kernel = attention_forward_kernel<S, C, DMAX, BK>;
  PHA_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(p.smem_fwd)));
  const dim3 grid(static_cast<unsigned>(p.q_tiles), static_cast<unsigned>(ix.s.n_q),
                  static_cast<unsigned>(ix.s.batch));
  kernel<<<grid, kAttnThreads, p.smem_fwd, l.stream>>>(
      ix, static_cast<const S*>(q), static_cast<const S*>(k), static_cast<const S*>(v),
      static_cast<S*>(out), static_cast<C*>(lse));
  PHA_CUDA_CHECK_LAUNCH("attention_forward");
}

}  // namespace

void attention_forward(const Launch& l, DType dtype, const AttentionShape& s, const void* q,
                       const void* k, const void* v, void* out, void* lse) {
  if (s.batch == 0 || s.seq == 0 || s.n_q == 0) return;
  const AttnIndex ix{s, s.n_q / s.n_kv};
  dispatch_float("attention_forward", dtype, [&](auto tag) {
    using S = decltype(tag);
    using C = compute_t<S>;
    const AttentionPlan p = plan_attention(s.seq, s.d_h, sizeof(C));
    constexpr int BK = sizeof(C) == 8 ? 32 : 64;  // = p.keys_fwd
    if (p.d_max == 64)
      launch_forward<S, C, 64, BK>(l, ix, p, q, k, v, out, lse);
    else
      launch_forward<S, C, 128, BK>(l, ix, p, q, k, v, out, lse);
  });
}

}  // namespace pha::cuda
