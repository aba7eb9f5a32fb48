// Flash-attention backward, deterministic (no atomics): the probabilities are recomputed from the
// saved lse, and two kernels split the work by what they write.
//   delta  D[b, j, t] = dout . out (one warp per row)
//   dq     a block of kAttnRows query rows of one head walks the key tiles it sees:
//          dq += scale sum_keys ds k, ds = p (dout . v - D)
//   dk, dv a block of kAttnKeys keys of one kv head walks every query row that sees them, for
//          each query head of its group: dv += p^T dout, dk += ds^T (scale q)
// Each gradient element is owned by one thread and summed in a fixed order. Thread layouts as in
// the forward (cuda_attention_fwd.cu): thread i owns row (or key) i / 4 and every fourth column
// from i % 4.
#include "core/cuda/cuda_attention.cuh"

namespace pha::cuda {

namespace {

template <typename S, typename C>
__global__ void attention_delta_kernel(AttnIndex ix, const S* dout, const S* out, C* delta) {
  const int64_t rows = ix.s.batch * ix.s.seq * ix.s.n_q;
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x >> 5);
  for (int64_t row = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; row < rows;
       row += warps) {
    // row = (b T + t) n_q + j, the order of q's rows.
    const int64_t j = row % ix.s.n_q, bt = row / ix.s.n_q;
    const int64_t b = bt / ix.s.seq, t = bt % ix.s.seq, at = row * ix.s.d_h;
    C dot = C(0);
    for (int64_t i = lane; i < ix.s.d_h; i += 32)
      dot += static_cast<C>(load(dout, at + i)) * static_cast<C>(load(out, at + i));
    dot = warp_sum(dot);
    if (lane == 0) delta[ix.row_at(b, j, t)] = dot;
  }
}

// grid (q_tiles, n_q, B). Shared: q (scaled) and dout [rows, ld], k and v [BK, ld],
// ds [rows, BK + 1].
template <typename S, typename C, int DMAX, int BK>
__global__ void __launch_bounds__(kAttnThreads)
    attention_dq_kernel(AttnIndex ix, const S* dout, const S* q, const S* k, const S* v,
                        const C* lse, const C* delta, S* dq) {
  constexpr int kCols = BK / 4, kDims = DMAX / 4;
  const int64_t d_h = ix.s.d_h, ld = d_h + 1;
  C* qs = shared_tiles<C>();
  C* dos = qs + kAttnRows * ld;
  C* ks = dos + kAttnRows * ld;
  C* vs = ks + BK * ld;
  C* ds = vs + BK * ld;
  const int tid = threadIdx.x, r = tid >> 2, part = tid & 3;
  const int64_t q0 = (static_cast<int64_t>(gridDim.x) - 1 - blockIdx.x) * kAttnRows;
  const int64_t j = blockIdx.y, b = blockIdx.z, g = j / ix.group;
  const int64_t t = q0 + r;
  const C scale = attention_scale<C>(d_h);
  load_tile(ix, q, false, b, j, q0, kAttnRows, scale, qs);
  load_tile(ix, dout, false, b, j, q0, kAttnRows, C(1), dos);
  const C row_lse = t < ix.s.seq ? lse[ix.row_at(b, j, t)] : C(0);
  const C row_delta = t < ix.s.seq ? delta[ix.row_at(b, j, t)] : C(0);

  C acc[kDims];
  for (int i = 0; i < kDims; ++i) acc[i] = C(0);
  const int64_t k_end = min(ix.s.seq, q0 + kAttnRows);
  for (int64_t k0 = attention_first_key(q0, ix.s.window) / BK * BK; k0 < k_end; k0 += BK) {
    __syncthreads();  // the previous tile's readers of ks, vs and ds are done
    load_tile(ix, k, true, b, g, k0, BK, C(1), ks);
    load_tile(ix, v, true, b, g, k0, BK, C(1), vs);
    __syncthreads();
    C s[kCols], dp[kCols];
    for (int c = 0; c < kCols; ++c) s[c] = dp[c] = C(0);
    for (int64_t i = 0; i < d_h; ++i) {
      const C qv = qs[r * ld + i], gv = dos[r * ld + i];
      for (int c = 0; c < kCols; ++c) {
        s[c] += qv * ks[(part + 4 * c) * ld + i];
        dp[c] += gv * vs[(part + 4 * c) * ld + i];
      }
    }
    for (int c = 0; c < kCols; ++c) {
      const int64_t col = part + 4 * c;
      const C p = ix.visible(t, k0 + col) ? exp(s[c] - row_lse) : C(0);
      ds[r * (BK + 1) + col] = p * (dp[c] - row_delta);
    }
    __syncthreads();
    for (int c = 0; c < BK; ++c) {
      const C dsv = ds[r * (BK + 1) + c];
      for (int i = 0; i < kDims; ++i) {
        const int64_t dim = part + 4 * i;
        if (dim < d_h) acc[i] += dsv * ks[c * ld + dim];
      }
    }
  }
  if (t >= ix.s.seq) return;
  const int64_t at = ix.q_at(b, t, j);
  for (int i = 0; i < kDims; ++i) {
    const int64_t dim = part + 4 * i;
    if (dim < d_h) store(dq, at + dim, load(dq, at + dim) + scale * acc[i]);
  }
}

// grid (k_tiles, n_kv, B). Shared: k and v [keys, ld], q (scaled) and dout [rows, ld],
// p^T and ds^T [keys, rows + 1], lse and delta [rows].
template <typename S, typename C, int DMAX>
__global__ void __launch_bounds__(kAttnThreads)
    attention_dkv_kernel(AttnIndex ix, const S* dout, const S* q, const S* k, const S* v,
                         const C* lse, const C* delta, S* dk, S* dv) {
  constexpr int kRows = kAttnRows / 4, kDims = DMAX / 4, kLd2 = kAttnRows + 1;
  const int64_t d_h = ix.s.d_h, ld = d_h + 1;
  C* ks = shared_tiles<C>();
  C* vs = ks + kAttnKeys * ld;
  C* qs = vs + kAttnKeys * ld;
  C* dos = qs + kAttnRows * ld;
  C* pt = dos + kAttnRows * ld;
  C* dst = pt + kAttnKeys * kLd2;
  C* lse_s = dst + kAttnKeys * kLd2;
  C* delta_s = lse_s + kAttnRows;
  const int tid = threadIdx.x, c = tid >> 2, part = tid & 3;
  const int64_t k0 = static_cast<int64_t>(blockIdx.x) * kAttnKeys;
  const int64_t g = blockIdx.y, b = blockIdx.z, key = k0 + c;
  const C scale = attention_scale<C>(d_h);
  load_tile(ix, k, true, b, g, k0, kAttnKeys, C(1), ks);
  load_tile(ix, v, true, b, g, k0, kAttnKeys, C(1), vs);

  C dk_acc[kDims], dv_acc[kDims];
  for (int i = 0; i < kDims; ++i) dk_acc[i] = dv_acc[i] = C(0);
  // Rows before k0 see none of these keys; with a window, rows past the last key + window - 1
  // see none either.
  const int64_t q_begin = k0 / kAttnRows * kAttnRows;
  const int64_t q_end =
      ix.s.window > 0 ? min(ix.s.seq, k0 + kAttnKeys - 1 + ix.s.window) : ix.s.seq;
  for (int64_t j = g * ix.group; j < (g + 1) * ix.group; ++j) {
    for (int64_t q0 = q_begin; q0 < q_end; q0 += kAttnRows) {
      __syncthreads();  // the previous tile's readers of qs, dos, pt, dst and the rows are done
      load_tile(ix, q, false, b, j, q0, kAttnRows, scale, qs);
      load_tile(ix, dout, false, b, j, q0, kAttnRows, C(1), dos);
      load_row_values(ix, lse, b, j, q0, kAttnRows, lse_s);
      load_row_values(ix, delta, b, j, q0, kAttnRows, delta_s);
      __syncthreads();
      C s[kRows], dp[kRows];
      for (int e = 0; e < kRows; ++e) s[e] = dp[e] = C(0);
      for (int64_t i = 0; i < d_h; ++i) {
        const C kv = ks[c * ld + i], vv = vs[c * ld + i];
        for (int e = 0; e < kRows; ++e) {
          s[e] += qs[(part + 4 * e) * ld + i] * kv;
          dp[e] += dos[(part + 4 * e) * ld + i] * vv;
        }
      }
      for (int e = 0; e < kRows; ++e) {
        const int row = part + 4 * e;
        const C p = ix.visible(q0 + row, key) ? exp(s[e] - lse_s[row]) : C(0);
        pt[c * kLd2 + row] = p;
        dst[c * kLd2 + row] = p * (dp[e] - delta_s[row]);
      }
      __syncthreads();
      for (int row = 0; row < kAttnRows; ++row) {
        const C p = pt[c * kLd2 + row], dsv = dst[c * kLd2 + row];
        for (int i = 0; i < kDims; ++i) {
          const int64_t dim = part + 4 * i;
          if (dim < d_h) {
            dv_acc[i] += p * dos[row * ld + dim];
            dk_acc[i] += dsv * qs[row * ld + dim];
          }
        }
      }
    }
  }
  if (key >= ix.s.seq) return;
  const int64_t at = ix.kv_at(b, key, g);
  for (int i = 0; i < kDims; ++i) {
    const int64_t dim = part + 4 * i;
    if (dim < d_h) {
      store(dk, at + dim, load(dk, at + dim) + dk_acc[i]);
      store(dv, at + dim, load(dv, at + dim) + dv_acc[i]);
    }
  }
}

template <typename S, typename C, int DMAX, int BK>
void launch_backward(const Launch& l, const AttnIndex& ix, const AttentionPlan& p, const void* dout,
                     const void* q, const void* k, const void* v, const void* lse, const C* delta,
                     void* dq, void* dk, void* dv) {
  const auto dq_kernel = attention_dq_kernel<S, C, DMAX, BK>;
  PHA_CUDA_CHECK(cudaFuncSetAttribute(dq_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(p.smem_dq)));
  const dim3 q_grid(static_cast<unsigned>(p.q_tiles), static_cast<unsigned>(ix.s.n_q),
                    static_cast<unsigned>(ix.s.batch));
  dq_kernel<<<q_grid, kAttnThreads, p.smem_dq, l.stream>>>(
      ix, static_cast<const S*>(dout), static_cast<const S*>(q), static_cast<const S*>(k),
      static_cast<const S*>(v), static_cast<const C*>(lse), delta, static_cast<S*>(dq));
  PHA_CUDA_CHECK_LAUNCH("attention_backward dq");

  const auto dkv_kernel = attention_dkv_kernel<S, C, DMAX>;
  PHA_CUDA_CHECK(cudaFuncSetAttribute(dkv_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(p.smem_dkv)));
  const dim3 kv_grid(static_cast<unsigned>(p.k_tiles), static_cast<unsigned>(ix.s.n_kv),
                     static_cast<unsigned>(ix.s.batch));
  dkv_kernel<<<kv_grid, kAttnThreads, p.smem_dkv, l.stream>>>(
      ix, static_cast<const S*>(dout), static_cast<const S*>(q), static_cast<const S*>(k),
      static_cast<const S*>(v), static_cast<const C*>(lse), delta, static_cast<S*>(dk),
      static_cast<S*>(dv));
  PHA_CUDA_CHECK_LAUNCH("attention_backward dk dv");
}

}  // namespace

void attention_backward(const Launch& l, DType dtype, const AttentionShape& s, const void* dout,
                        const void* q, const void* k, const void* v, const void* out,
                        const void* lse, void* dq, void* dk, void* dv, void* delta) {
  if (s.batch == 0 || s.seq == 0 || s.n_q == 0) return;
  const AttnIndex ix{s, s.n_q / s.n_kv};
  dispatch_float("attention_backward", dtype, [&](auto tag) {
    using S = decltype(tag);
    using C = compute_t<S>;
    C* d = static_cast<C*>(delta);
    const int64_t rows = s.batch * s.seq * s.n_q;
    const int64_t blocks = std::min<int64_t>((rows * 32 + kBlock - 1) / kBlock, l.max_blocks);
    attention_delta_kernel<<<static_cast<unsigned>(blocks), kBlock, 0, l.stream>>>(
        ix, static_cast<const S*>(dout), static_cast<const S*>(out), d);
    PHA_CUDA_CHECK_LAUNCH("attention_backward delta");
    const AttentionPlan p = plan_attention(s.seq, s.d_h, sizeof(C));
    constexpr int BK = sizeof(C) == 8 ? 32 : 64;  // = p.keys_fwd
    if (p.d_max == 64)
      launch_backward<S, C, 64, BK>(l, ix, p, dout, q, k, v, lse, d, dq, dk, dv);
    else
      launch_backward<S, C, 128, BK>(l, ix, p, dout, q, k, v, lse, d, dq, dk, dv);
  });
}

}  // namespace pha::cuda
