// CudaBackend GELU: checks, then the kernels of cuda_activations.cu.
#include "core/cuda/cuda_backend.h"

namespace pha {

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

}  // namespace pha
