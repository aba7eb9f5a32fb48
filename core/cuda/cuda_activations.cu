// GELU kernels, using the tanh-form math shared with the CPU backend (core/math/gelu.h), and the
// row softmax (one block per row; sums in double as in the CPU backend).
#include "core/cuda/cuda_common.cuh"
#include "core/cuda/launch_plan.h"
#include "core/math/gelu.h"

namespace pha::cuda {

namespace {

// Element-wise, so y may alias x.
template <typename S>
struct GeluForward {
  const S* x;
  S* y;
  __device__ void operator()(int64_t i) const { store(y, i, gelu_value(load(x, i))); }
};

// dx += gelu'(x) dy (backward ops accumulate).
template <typename S>
struct GeluBackward {
  const S* x;
  const S* dy;
  S* dx;
  __device__ void operator()(int64_t i) const {
    store(dx, i, load(dx, i) + gelu_grad(load(x, i)) * load(dy, i));
  }
};

// y = exp(x - max) / sum exp(x - max) per row. The exps are recomputed in the second pass (the
// same function of the same input, so the same values) instead of being stored, so y may alias x.
template <typename S>
__global__ void softmax_forward_kernel(const S* x, S* y, int64_t cols) {
  using C = compute_t<S>;
  __shared__ C shared_max[32];
  __shared__ double shared_sum[32];
  const int64_t base = static_cast<int64_t>(blockIdx.x) * cols;
  C mx = neg_infinity<C>();
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) mx = max(mx, load(x, base + j));
  mx = block_max(mx, shared_max);
  double s = 0;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) s += exp(load(x, base + j) - mx);
  const C inv = static_cast<C>(1.0 / block_sum(s, shared_sum));
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
    store(y, base + j, exp(load(x, base + j) - mx) * inv);
}

// dx += y (dy - sum_k y_k dy_k) per row.
template <typename S>
__global__ void softmax_backward_kernel(const S* y, const S* dy, S* dx, int64_t cols) {
  using C = compute_t<S>;
  __shared__ double shared[32];
  const int64_t base = static_cast<int64_t>(blockIdx.x) * cols;
  double dot = 0;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
    dot += static_cast<double>(load(y, base + j)) * static_cast<double>(load(dy, base + j));
  const C d = static_cast<C>(block_sum(dot, shared));
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
    store(dx, base + j, load(dx, base + j) + load(y, base + j) * (load(dy, base + j) - d));
}

}  // namespace

void softmax_forward(const Launch& l, DType dtype, const void* x, void* y, int64_t rows,
                     int64_t cols) {
  if (rows == 0) return;
  dispatch_float("softmax_forward", dtype, [&](auto tag) {
    using S = decltype(tag);
    softmax_forward_kernel<<<static_cast<unsigned>(rows), row_threads(cols), 0, l.stream>>>(
        static_cast<const S*>(x), static_cast<S*>(y), cols);
    PHA_CUDA_CHECK_LAUNCH("softmax_forward");
  });
}

void softmax_backward(const Launch& l, DType dtype, const void* y, const void* dy, void* dx,
                      int64_t rows, int64_t cols) {
  if (rows == 0) return;
  dispatch_float("softmax_backward", dtype, [&](auto tag) {
    using S = decltype(tag);
    softmax_backward_kernel<<<static_cast<unsigned>(rows), row_threads(cols), 0, l.stream>>>(
        static_cast<const S*>(y), static_cast<const S*>(dy), static_cast<S*>(dx), cols);
    PHA_CUDA_CHECK_LAUNCH("softmax_backward");
  });
}

void gelu_forward(const Launch& l, DType dtype, const void* x, void* y, int64_t n) {
  dispatch_float("gelu_forward", dtype, [&](auto tag) {
    using S = decltype(tag);
    for_each(l, "gelu_forward", n, GeluForward<S>{static_cast<const S*>(x), static_cast<S*>(y)});
  });
}

void gelu_backward(const Launch& l, DType dtype, const void* x, const void* dy, void* dx,
                   int64_t n) {
  dispatch_float("gelu_backward", dtype, [&](auto tag) {
    using S = decltype(tag);
    for_each(
        l, "gelu_backward", n,
        GeluBackward<S>{static_cast<const S*>(x), static_cast<const S*>(dy), static_cast<S*>(dx)});
  });
}

}  // namespace pha::cuda
