// CudaBackend GELU and row softmax: checks, then the kernels of cuda_activations.cu.
#include "core/cuda/cuda_backend.h"

namespace pha {

namespace {

void require_rows(const char* op, const char* what, const Tensor& t) {
  cuda::require_float_on_gpu(op, what, t);
  PHA_REQUIRE(t.rank() >= 1 && t.shape.last() > 0, "{}: {} has shape {}, expected [..., C > 0]", op,
              what, t.shape.str());
}

}  // namespace

void CudaBackend::gelu_forward(const Tensor& x, const Tensor& y) {
  cuda::require_float_on_gpu("gelu_forward", "x", x);
  cuda::require_like("gelu_forward", "y", y, "x", x);
  cuda::gelu_forward(launch(), x.dtype, x.data, y.data, x.numel());
}

void CudaBackend::gelu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) {
  cuda::require_float_on_gpu("gelu_backward", "x", x);
  cuda::require_like("gelu_backward", "dy", dy, "x", x);
  cuda::require_like("gelu_backward", "dx", dx, "x", x);
  cuda::gelu_backward(launch(), x.dtype, x.data, dy.data, dx.data, x.numel());
}

// y may alias x.
void CudaBackend::softmax_forward(const Tensor& x, const Tensor& y) {
  require_rows("softmax_forward", "x", x);
  cuda::require_like("softmax_forward", "y", y, "x", x);
  cuda::softmax_forward(launch(), x.dtype, x.data, y.data, x.shape.rows(), x.shape.last());
}

void CudaBackend::softmax_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) {
  require_rows("softmax_backward", "y", y);
  cuda::require_like("softmax_backward", "dy", dy, "y", y);
  cuda::require_like("softmax_backward", "dx", dx, "y", y);
  cuda::softmax_backward(launch(), y.dtype, y.data, dy.data, dx.data, y.shape.rows(),
                         y.shape.last());
}

}  // namespace pha
