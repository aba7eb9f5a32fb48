// CudaBackend RMSNorm and LayerNorm: checks, then the kernels of cuda_norms.cu.
// x, y, dy, dx [rows, C] (activations); gains, biases and their gradients [C] (parameters);
// rstd and mean [rows] in the compute type (cuda_backend.h). A gradient (and LayerNorm's beta) has
// its parameter's shape and dtype.
#include "core/cuda/cuda_backend.h"
#include "core/cuda/launch_plan.h"

namespace pha {

namespace {

// x is a float GPU tensor [..., C > 0]; returns C.
int64_t require_rows(const char* op, const Tensor& x) {
  cuda::require_float_on_gpu(op, "x", x);
  PHA_REQUIRE(x.rank() >= 1 && x.shape.last() > 0, "{}: x has shape {}, expected [..., C > 0]", op,
              x.shape.str());
  return x.shape.last();
}

}  // namespace

void CudaBackend::rmsnorm_forward(const Tensor& x, const Tensor& g, const Tensor& y,
                                  const Tensor& rstd, double eps) {
  const char* op = "rmsnorm_forward";
  const int64_t c = require_rows(op, x);
  cuda::require_like(op, "y", y, "x", x);
  cuda::require_param(op, "g", g, Shape{c}, x);
  cuda::require_row_stat(op, "rstd", rstd, "x", x);
  PHA_REQUIRE(eps >= 0, "{}: eps must be >= 0, got {}", op, eps);
  cuda::rmsnorm_forward(launch(), x.dtype, g.dtype, x.data, g.data, y.data, rstd.data,
                        x.shape.rows(), c, eps);
}

void CudaBackend::rmsnorm_backward(const Tensor& dy, const Tensor& x, const Tensor& g,
                                   const Tensor& rstd, const Tensor& dx, const Tensor& dg) {
  const char* op = "rmsnorm_backward";
  const int64_t c = require_rows(op, x);
  cuda::require_like(op, "dy", dy, "x", x);
  cuda::require_like(op, "dx", dx, "x", x);
  cuda::require_param(op, "g", g, Shape{c}, x);
  cuda::require_like(op, "dg", dg, "g", g);
  cuda::require_row_stat(op, "rstd", rstd, "x", x);
  const int64_t rows = x.shape.rows();
  double* partial = scratch<double>(cuda::slot::partials,
                                    static_cast<size_t>(cuda::plan_columns(rows, c).partials()));
  cuda::rmsnorm_backward(launch(), x.dtype, g.dtype, dy.data, x.data, g.data, rstd.data, dx.data,
                         dg.data, rows, c, partial);
}

void CudaBackend::layernorm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                    const Tensor& y, const Tensor& mean, const Tensor& rstd,
                                    double eps) {
  const char* op = "layernorm_forward";
  const int64_t c = require_rows(op, x);
  cuda::require_like(op, "y", y, "x", x);
  cuda::require_param(op, "gamma", gamma, Shape{c}, x);
  cuda::require_like(op, "beta", beta, "gamma", gamma);
  cuda::require_row_stat(op, "mean", mean, "x", x);
  cuda::require_row_stat(op, "rstd", rstd, "x", x);
  PHA_REQUIRE(eps >= 0, "{}: eps must be >= 0, got {}", op, eps);
  cuda::layernorm_forward(launch(), x.dtype, gamma.dtype, x.data, gamma.data, beta.data, y.data,
                          mean.data, rstd.data, x.shape.rows(), c, eps);
}

void CudaBackend::layernorm_backward(const Tensor& dy, const Tensor& x, const Tensor& gamma,
                                     const Tensor& mean, const Tensor& rstd, const Tensor& dx,
                                     const Tensor& dgamma, const Tensor& dbeta) {
  const char* op = "layernorm_backward";
  const int64_t c = require_rows(op, x);
  cuda::require_like(op, "dy", dy, "x", x);
  cuda::require_like(op, "dx", dx, "x", x);
  cuda::require_param(op, "gamma", gamma, Shape{c}, x);
  cuda::require_like(op, "dgamma", dgamma, "gamma", gamma);
  cuda::require_like(op, "dbeta", dbeta, "gamma", gamma);
  cuda::require_row_stat(op, "mean", mean, "x", x);
  cuda::require_row_stat(op, "rstd", rstd, "x", x);
  const int64_t rows = x.shape.rows();
  double* partial = scratch<double>(
      cuda::slot::partials, static_cast<size_t>(cuda::plan_columns(rows, 2 * c).partials()));
  cuda::layernorm_backward(launch(), x.dtype, gamma.dtype, dy.data, x.data, gamma.data, mean.data,
                           rstd.data, dx.data, dgamma.data, dbeta.data, rows, c, partial);
}

}  // namespace pha
