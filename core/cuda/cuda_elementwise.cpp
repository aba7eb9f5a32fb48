// CudaBackend element-wise ops: checks, then the kernels of cuda_elementwise.cu. Every operand
// has the first one's shape and dtype; outputs may alias inputs.
#include "core/cuda/cuda_backend.h"

namespace pha {

void CudaBackend::add(const Tensor& a, const Tensor& b, const Tensor& out) {
  cuda::require_float_on_gpu("add", "a", a);
  cuda::require_like("add", "b", b, "a", a);
  cuda::require_like("add", "out", out, "a", a);
  cuda::add(launch(), a.dtype, a.data, b.data, out.data, a.numel());
}

void CudaBackend::mul(const Tensor& a, const Tensor& b, const Tensor& out) {
  cuda::require_float_on_gpu("mul", "a", a);
  cuda::require_like("mul", "b", b, "a", a);
  cuda::require_like("mul", "out", out, "a", a);
  cuda::mul(launch(), a.dtype, a.data, b.data, out.data, a.numel());
}

void CudaBackend::mul_backward(const Tensor& dy, const Tensor& a, const Tensor& b, const Tensor& da,
                               const Tensor& db) {
  cuda::require_float_on_gpu("mul_backward", "dy", dy);
  cuda::require_like("mul_backward", "a", a, "dy", dy);
  cuda::require_like("mul_backward", "b", b, "dy", dy);
  if (!da.empty()) cuda::require_like("mul_backward", "da", da, "dy", dy);
  if (!db.empty()) cuda::require_like("mul_backward", "db", db, "dy", dy);
  if (da.empty() && db.empty()) return;
  cuda::mul_backward(launch(), dy.dtype, dy.data, a.data, b.data, da.data, db.data, dy.numel());
}

void CudaBackend::scale(const Tensor& x, double s, const Tensor& out) {
  cuda::require_float_on_gpu("scale", "x", x);
  cuda::require_like("scale", "out", out, "x", x);
  cuda::scale(launch(), x.dtype, x.data, s, out.data, x.numel());
}

void CudaBackend::axpy(double s, const Tensor& x, const Tensor& y) {
  cuda::require_float_on_gpu("axpy", "x", x);
  cuda::require_like("axpy", "y", y, "x", x);
  cuda::axpy(launch(), x.dtype, s, x.data, y.data, x.numel());
}

}  // namespace pha
