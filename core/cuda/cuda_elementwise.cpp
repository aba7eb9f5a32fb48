// CudaBackend element-wise ops: checks, then the kernels of cuda_elementwise.cu. Every operand
// has the first one's shape and dtype (the channel vectors of the channel FMA are parameters:
// see cuda_backend.h); outputs may alias inputs.
#include "core/cuda/cuda_backend.h"
#include "core/cuda/launch_plan.h"

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

// y = c + x * d: x, c, y [rows, C], d [C].
void CudaBackend::channel_fma_forward(const Tensor& x, const Tensor& d, const Tensor& c,
                                      const Tensor& y) {
  const char* op = "channel_fma_forward";
  cuda::require_float_on_gpu(op, "x", x);
  PHA_REQUIRE(x.rank() >= 1, "{}: x {} needs a channel dim", op, x.shape.str());
  cuda::require_like(op, "c", c, "x", x);
  cuda::require_like(op, "y", y, "x", x);
  cuda::require_param(op, "d", d, Shape{x.shape.last()}, x);
  cuda::channel_fma_forward(launch(), x.dtype, d.dtype, x.data, d.data, c.data, y.data,
                            x.shape.rows(), x.shape.last());
}

// dx += dy * d; dd += sum_rows(dy * x); dc += dy. Any output may be empty.
void CudaBackend::channel_fma_backward(const Tensor& dy, const Tensor& x, const Tensor& d,
                                       const Tensor& dx, const Tensor& dd, const Tensor& dc) {
  const char* op = "channel_fma_backward";
  cuda::require_float_on_gpu(op, "x", x);
  PHA_REQUIRE(x.rank() >= 1, "{}: x {} needs a channel dim", op, x.shape.str());
  cuda::require_like(op, "dy", dy, "x", x);
  cuda::require_param(op, "d", d, Shape{x.shape.last()}, x);
  if (!dx.empty()) cuda::require_like(op, "dx", dx, "x", x);
  if (!dc.empty()) cuda::require_like(op, "dc", dc, "x", x);
  if (!dd.empty()) cuda::require_like(op, "dd", dd, "d", d);
  const int64_t rows = x.shape.rows(), cols = x.shape.last();
  double* partial =
      dd.empty() ? nullptr
                 : scratch<double>(cuda::slot::partials,
                                   static_cast<size_t>(cuda::plan_columns(rows, cols).partials()));
  cuda::channel_fma_backward(launch(), x.dtype, d.dtype, dy.data, x.data, d.data, dx.data, dd.data,
                             dc.data, rows, cols, partial);
}

}  // namespace pha
