// Embedding gather and its deterministic scatter-add backward, without float atomics: integer
// counts of each token (exact, in any order), then one block per vocabulary row that appears,
// walking the tokens in ascending position and adding the matching gradient rows in that order
// (each column owned by one thread). The sums are those of the CPU backend, in its order.
#include "core/cuda/cuda_common.cuh"

namespace pha::cuda {

namespace {

constexpr int kRowThreads = 256;  // threads of a backward block (the token scan's chunk)

// out[i, c] = table[tokens[i], c]; NaN for a token outside [0, vocab).
template <typename S, typename P>
struct Gather {
  const int32_t* tokens;
  const P* table;
  S* out;
  int64_t vocab, d;
  __device__ void operator()(int64_t idx) const {
    const int64_t i = idx / d, c = idx % d;
    const int32_t tok = tokens[i];
    const bool ok = tok >= 0 && tok < vocab;
    store(
        out, idx,
        ok ? static_cast<compute_t<S>>(load(table, tok * d + c)) : static_cast<compute_t<S>>(NAN));
  }
};

struct CountTokens {
  const int32_t* tokens;
  int32_t* counts;
  int64_t vocab;
  __device__ void operator()(int64_t i) const {
    const int32_t tok = tokens[i];
    if (tok >= 0 && tok < vocab) atomicAdd(counts + tok, 1);  // integer: exact in any order
  }
};

// Block v: dtable[v, :] += dout[i, :] for every i with tokens[i] == v, in ascending i. The scan
// goes in chunks of kRowThreads positions: a warp ballot and the warps' counts give each match
// its place in `found`, in position order; then the block adds the found rows one after another.
template <typename S, typename P>
__global__ void embedding_backward_kernel(const int32_t* tokens, int64_t n, const int32_t* counts,
                                          const S* dout, P* dtable, int64_t d) {
  __shared__ int64_t found[kRowThreads];
  __shared__ int32_t warp_hits[kRowThreads / 32];
  const int32_t v = static_cast<int32_t>(blockIdx.x);
  const int32_t want = counts[v];  // the same for the whole block: returning here is uniform
  if (want == 0) return;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  P* row = dtable + static_cast<int64_t>(v) * d;
  int32_t seen = 0;
  for (int64_t base = 0; base < n && seen < want; base += kRowThreads) {
    const int64_t i = base + threadIdx.x;
    const bool hit = i < n && tokens[i] == v;
    const unsigned mask = __ballot_sync(0xffffffffu, hit);
    if (lane == 0) warp_hits[warp] = __popc(mask);
    __syncthreads();
    int32_t before = 0, total = 0;
    for (int w = 0; w < kRowThreads / 32; ++w) {
      if (w < warp) before += warp_hits[w];
      total += warp_hits[w];
    }
    if (hit) found[before + __popc(mask & ((1u << lane) - 1u))] = i;
    __syncthreads();
    for (int32_t k = 0; k < total; ++k) {
      const S* g = dout + found[k] * d;
      for (int64_t c = threadIdx.x; c < d; c += kRowThreads)
        store(row, c, load(row, c) + static_cast<compute_t<P>>(load(g, c)));
    }
    seen += total;
    __syncthreads();  // found and warp_hits are rewritten by the next chunk
  }
}

}  // namespace

void embedding_forward(const Launch& l, DType act, DType param, const int32_t* tokens, int64_t n,
                       const void* table, int64_t vocab, int64_t d, void* out) {
  dispatch_act_param("embedding_forward", act, param, [&](auto s_tag, auto p_tag) {
    using S = decltype(s_tag);
    using P = decltype(p_tag);
    for_each(l, "embedding_forward", n * d,
             Gather<S, P>{tokens, static_cast<const P*>(table), static_cast<S*>(out), vocab, d});
  });
}

void embedding_backward(const Launch& l, DType act, DType param, const int32_t* tokens, int64_t n,
                        const void* dout, void* dtable, int64_t vocab, int64_t d, int32_t* counts) {
  if (n == 0 || d == 0) return;
  PHA_CUDA_CHECK(
      cudaMemsetAsync(counts, 0, static_cast<size_t>(vocab) * sizeof(int32_t), l.stream));
  for_each(l, "embedding_backward counts", n, CountTokens{tokens, counts, vocab});
  dispatch_act_param("embedding_backward", act, param, [&](auto s_tag, auto p_tag) {
    using S = decltype(s_tag);
    using P = decltype(p_tag);
    embedding_backward_kernel<<<static_cast<unsigned>(vocab), kRowThreads, 0, l.stream>>>(
        tokens, n, counts, static_cast<const S*>(dout), static_cast<P*>(dtable), d);
    PHA_CUDA_CHECK_LAUNCH("embedding_backward");
  });
}

}  // namespace pha::cuda
