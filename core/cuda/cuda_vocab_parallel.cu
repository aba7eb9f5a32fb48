// Vocab-parallel cross-entropy (see backend.h): this rank's logits [rows, V_local] are columns
// [vocab_offset, vocab_offset + V_local) of the full [rows, V]. The passes over the logits take one
// block per row, as cuda_cross_entropy.cu, each row reduced in a fixed order (block_max /
// block_sum, the sum of exps in double), so results are bit-reproducible; the per-row loss is a
// grid-stride loop. row_max, stats, losses and lse are in the compute type of the logits.
#include "core/cuda/cuda_common.cuh"
#include "core/cuda/launch_plan.h"
#include "core/math/cross_entropy.h"

namespace pha::cuda {

namespace {

// row_max[r] = max over the local columns of logits[r, :]; one block per row.
template <typename S>
__global__ void vocab_parallel_max_kernel(const S* logits, compute_t<S>* row_max, int64_t vocab) {
  using C = compute_t<S>;
  __shared__ C shared_max[32];
  const int64_t r = blockIdx.x, base = r * vocab;
  C mx = neg_infinity<C>();
  for (int64_t v = threadIdx.x; v < vocab; v += blockDim.x) mx = max(mx, load(logits, base + v));
  mx = block_max(mx, shared_max);
  if (threadIdx.x == 0) row_max[r] = mx;
}

// stats [2, rows]: stats[0, r] = sum of exp(logits[r, :] - row_max[r]) (summed in double, stored
// in C); stats[1, r] = the target's logit when this shard holds its column, else 0.
template <typename S>
__global__ void vocab_parallel_sums_kernel(const S* logits, const int32_t* targets,
                                           int64_t vocab_offset, const compute_t<S>* row_max,
                                           compute_t<S>* stats, int64_t rows, int64_t vocab) {
  using C = compute_t<S>;
  __shared__ double shared_sum[32];
  const int64_t r = blockIdx.x, base = r * vocab;
  const C mx = row_max[r];
  double s = 0;
  for (int64_t v = threadIdx.x; v < vocab; v += blockDim.x) s += exp(load(logits, base + v) - mx);
  s = block_sum(s, shared_sum);
  if (threadIdx.x != 0) return;
  stats[r] = static_cast<C>(s);
  const int64_t col = vocab_shard_column(targets[r], vocab_offset, vocab);
  stats[rows + r] = col < 0 ? C(0) : static_cast<C>(load(logits, base + col));
}

// lse[r] = row_max[r] + log(stats[0, r]); losses[r] = lse[r] - stats[1, r], 0 when ignored. A sum
// of exps below 1 means the all-reduces were skipped or mismatched: the CPU refuses it, here the
// row's lse and loss become NaN for the trainer's non-finite check (refusing would cost a host
// round trip every step).
template <typename C>
struct VocabParallelLoss {
  const C* row_max;  // [rows]
  const C* stats;    // [2, rows]
  const int32_t* targets;
  C* losses;  // [rows]
  C* lse;     // [rows]
  int64_t rows;
  __device__ void operator()(int64_t r) const {
    const C sum_exp = stats[r];
    if (sum_exp < C(1)) {
      lse[r] = static_cast<C>(NAN);
      losses[r] = static_cast<C>(NAN);
      return;
    }
    const double l = log_sum_exp(static_cast<double>(row_max[r]), static_cast<double>(sum_exp));
    lse[r] = static_cast<C>(l);
    losses[r] =
        static_cast<C>(row_cross_entropy(targets[r], l, static_cast<double>(stats[rows + r])));
  }
};

// dlogits[r, :] = (exp(logits[r, :] - lse[r]) - onehot(target - vocab_offset)) * scale, 0 for an
// ignored row; one block per row. Each element is read and then written by one thread, so dlogits
// may alias logits.
template <typename S>
__global__ void vocab_parallel_backward_kernel(const S* logits, const compute_t<S>* lse,
                                               const int32_t* targets, int64_t vocab_offset,
                                               compute_t<S> scale, S* dlogits, int64_t vocab) {
  using C = compute_t<S>;
  const int64_t r = blockIdx.x, base = r * vocab;
  const int32_t t = targets[r];
  const int64_t col = vocab_shard_column(t, vocab_offset, vocab);
  const C l = lse[r];
  for (int64_t v = threadIdx.x; v < vocab; v += blockDim.x) {
    const C g = t < 0 ? C(0) : softmax_xent_grad(load(logits, base + v), l, scale, v == col);
    store(dlogits, base + v, g);
  }
}

}  // namespace

void vocab_parallel_max(const Launch& l, DType dtype, const void* logits, void* row_max,
                        int64_t rows, int64_t vocab) {
  if (rows == 0) return;
  dispatch_float("vocab_parallel_max", dtype, [&](auto tag) {
    using S = decltype(tag);
    vocab_parallel_max_kernel<<<static_cast<unsigned>(rows), row_threads(vocab), 0, l.stream>>>(
        static_cast<const S*>(logits), static_cast<compute_t<S>*>(row_max), vocab);
    PHA_CUDA_CHECK_LAUNCH("vocab_parallel_max");
  });
}

void vocab_parallel_sums(const Launch& l, DType dtype, const void* logits, const int32_t* targets,
                         int64_t vocab_offset, const void* row_max, void* stats, int64_t rows,
                         int64_t vocab) {
  if (rows == 0) return;
  dispatch_float("vocab_parallel_sums", dtype, [&](auto tag) {
    using S = decltype(tag);
    using C = compute_t<S>;
    vocab_parallel_sums_kernel<<<static_cast<unsigned>(rows), row_threads(vocab), 0, l.stream>>>(
        static_cast<const S*>(logits), targets, vocab_offset, static_cast<const C*>(row_max),
        static_cast<C*>(stats), rows, vocab);
    PHA_CUDA_CHECK_LAUNCH("vocab_parallel_sums");
  });
}

void vocab_parallel_loss(const Launch& l, DType stat, const void* row_max, const void* stats,
                         const int32_t* targets, void* losses, void* lse, int64_t rows) {
  auto run = [&](auto tag) {
    using C = decltype(tag);
    for_each(l, "vocab_parallel_loss", rows,
             VocabParallelLoss<C>{static_cast<const C*>(row_max), static_cast<const C*>(stats),
                                  targets, static_cast<C*>(losses), static_cast<C*>(lse), rows});
  };
  if (stat == DType::f64)
    run(double{});
  else if (stat == DType::f32)
    run(float{});
  else
    refuse_dtype("vocab_parallel_loss", stat);
}

void vocab_parallel_backward(const Launch& l, DType dtype, const void* logits, const void* lse,
                             const int32_t* targets, int64_t vocab_offset, double scale,
                             void* dlogits, int64_t rows, int64_t vocab) {
  if (rows == 0) return;
  dispatch_float("vocab_parallel_backward", dtype, [&](auto tag) {
    using S = decltype(tag);
    using C = compute_t<S>;
    vocab_parallel_backward_kernel<<<static_cast<unsigned>(rows), row_threads(vocab), 0,
                                     l.stream>>>(
        static_cast<const S*>(logits), static_cast<const C*>(lse), targets, vocab_offset,
        static_cast<C>(scale), static_cast<S*>(dlogits), vocab);
    PHA_CUDA_CHECK_LAUNCH("vocab_parallel_backward");
  });
}

}  // namespace pha::cuda
