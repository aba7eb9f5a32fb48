// GELU kernels, using the tanh-form math shared with the CPU backend (core/math/gelu.h).
#include "core/cuda/cuda_common.cuh"
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

}  // namespace

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
