// Fused log-softmax + cross-entropy, one block per row of logits [rows, vocab]: the forward keeps
// only lse and the loss per row, the backward writes the gradient over the logits in place (each
// element is read and written by one thread), so the logits are never stored twice.
#include "core/cuda/cuda_common.cuh"
#include "core/cuda/launch_plan.h"

namespace pha::cuda {

namespace {

// lse = max + log(sum exp(x - max)) (sum in double); loss = lse - x[target], 0 when ignored.
template <typename S>
__global__ void cross_entropy_forward_kernel(const S* logits, const int32_t* targets,
                                             compute_t<S>* losses, compute_t<S>* lse,
                                             int64_t vocab) {
  using C = compute_t<S>;
  __shared__ C shared_max[32];
  __shared__ double shared_sum[32];
  const int64_t r = blockIdx.x, base = r * vocab;
  C mx = neg_infinity<C>();
  for (int64_t v = threadIdx.x; v < vocab; v += blockDim.x) mx = max(mx, load(logits, base + v));
  mx = block_max(mx, shared_max);
  double s = 0;
  for (int64_t v = threadIdx.x; v < vocab; v += blockDim.x) s += exp(load(logits, base + v) - mx);
  s = block_sum(s, shared_sum);
  if (threadIdx.x != 0) return;
  const double l = static_cast<double>(mx) + log(s);
  const int32_t t = targets[r];
  lse[r] = static_cast<C>(l);
  losses[r] = t < 0        ? C(0)
              : t >= vocab ? static_cast<C>(NAN)
                           : static_cast<C>(l - static_cast<double>(load(logits, base + t)));
}

// dlogits = (exp(x - lse) - onehot(target)) scale, rounded as the CPU does: exp(x - lse) scale,
// then minus scale at the target.
template <typename S>
__global__ void cross_entropy_backward_kernel(const S* logits, const compute_t<S>* lse,
                                              const int32_t* targets, compute_t<S> scale,
                                              S* dlogits, int64_t vocab) {
  using C = compute_t<S>;
  const int64_t r = blockIdx.x, base = r * vocab;
  const int32_t t = targets[r];
  const C l = lse[r];
  for (int64_t v = threadIdx.x; v < vocab; v += blockDim.x) {
    C g;
    if (t < 0) {
      g = C(0);
    } else if (t >= vocab) {
      g = static_cast<C>(NAN);
    } else {
      g = exp(load(logits, base + v) - l) * scale;
      if (v == t) g -= scale;
    }
    store(dlogits, base + v, g);
  }
}

}  // namespace

void cross_entropy_forward(const Launch& l, DType dtype, const void* logits, const int32_t* targets,
                           void* losses, void* lse, int64_t rows, int64_t vocab) {
  if (rows == 0) return;
  dispatch_float("cross_entropy_forward", dtype, [&](auto tag) {
    using S = decltype(tag);
    cross_entropy_forward_kernel<<<static_cast<unsigned>(rows), row_threads(vocab), 0, l.stream>>>(
        static_cast<const S*>(logits), targets, static_cast<compute_t<S>*>(losses),
        static_cast<compute_t<S>*>(lse), vocab);
    PHA_CUDA_CHECK_LAUNCH("cross_entropy_forward");
  });
}

void cross_entropy_backward(const Launch& l, DType dtype, const void* logits, const void* lse,
                            const int32_t* targets, double scale, void* dlogits, int64_t rows,
                            int64_t vocab) {
  if (rows == 0) return;
  dispatch_float("cross_entropy_backward", dtype, [&](auto tag) {
    using S = decltype(tag);
    cross_entropy_backward_kernel<<<static_cast<unsigned>(rows), row_threads(vocab), 0, l.stream>>>(
        static_cast<const S*>(logits), static_cast<const compute_t<S>*>(lse), targets,
        static_cast<compute_t<S>>(scale), static_cast<S*>(dlogits), vocab);
    PHA_CUDA_CHECK_LAUNCH("cross_entropy_backward");
  });
}

}  // namespace pha::cuda
