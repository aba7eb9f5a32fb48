// CudaBackend reductions: checks, then the deterministic sums of cuda_reductions.cu. sum and
// sum_squares return to the host, so they wait for the stream.
#include <cuda_runtime_api.h>

#include "core/cuda/cuda_backend.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/launch_plan.h"

namespace pha {

namespace {

double reduce(CudaBackend& be, const char* op, const Tensor& x, bool squares) {
  cuda::require_float_on_gpu(op, "x", x);
  const cuda::SumPlan p = cuda::plan_sum(x.numel());
  double* partial = be.scratch<double>(cuda::slot::partials, static_cast<size_t>(p.blocks));
  double* result = be.scratch<double>(cuda::slot::result, 1);
  cuda::sum(be.launch(), x.dtype, x.data, x.numel(), squares, partial, result);
  double host = 0;
  PHA_CUDA_CHECK(cudaMemcpyAsync(&host, result, sizeof host, cudaMemcpyDeviceToHost, be.stream()));
  PHA_CUDA_CHECK(cudaStreamSynchronize(be.stream()));
  return host;
}

}  // namespace

double CudaBackend::sum(const Tensor& x) {
  return reduce(*this, "sum", x, false);
}

double CudaBackend::sum_squares(const Tensor& x) {
  return reduce(*this, "sum_squares", x, true);
}

// out[c] += sum over rows of x[r, c]: x [rows, C], out [C].
void CudaBackend::sum_rows(const Tensor& x, const Tensor& out) {
  cuda::require_float_on_gpu("sum_rows", "x", x);
  PHA_REQUIRE(x.rank() >= 1, "sum_rows: x {} needs a last dim", x.shape.str());
  cuda::require_param("sum_rows", "out", out, Shape{x.shape.last()}, x);
  const int64_t rows = x.shape.rows(), cols = x.shape.last();
  double* partial = scratch<double>(cuda::slot::partials,
                                    static_cast<size_t>(cuda::plan_columns(rows, cols).partials()));
  cuda::sum_rows(launch(), x.dtype, out.dtype, x.data, out.data, rows, cols, partial);
}

}  // namespace pha
