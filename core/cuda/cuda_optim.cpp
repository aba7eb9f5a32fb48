// The optimiser's GPU kernels on tensors (cuda_optim.h): checks, then cuda_reductions.cu and
// cuda_elementwise.cu on the backend's stream.
#include "core/cuda/cuda_optim.h"

#include "core/cuda/cuda_backend.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/launch_plan.h"

namespace pha::cuda {

namespace {

void require_range(const char* op, const Tensor& t, int64_t begin, int64_t end) {
  require_float_on_gpu(op, "tensor", t);
  PHA_REQUIRE(0 <= begin && begin <= end && end <= t.numel(),
              "{}: elements [{}, {}) are outside {}", op, begin, end, t.describe());
}

// Host copy of a device value, after the stream has produced it.
template <typename T>
T fetch(CudaBackend& be, const T* device_value) {
  T host{};
  PHA_CUDA_CHECK(
      cudaMemcpyAsync(&host, device_value, sizeof host, cudaMemcpyDeviceToHost, be.stream()));
  PHA_CUDA_CHECK(cudaStreamSynchronize(be.stream()));
  return host;
}

}  // namespace

void adamw_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                const Tensor& exp_avg_sq, int64_t begin, int64_t end,
                const AdamWScalars<double>& scalars) {
  const char* op = "adamw";
  require_range(op, param, begin, end);
  PHA_REQUIRE(param.dtype == DType::f32 || param.dtype == DType::f64,
              "{}: {} is not f32 or f64 (the optimiser keeps master weights)", op,
              param.describe());
  require_like(op, "grad", grad, "param", param);
  require_like(op, "exp_avg", exp_avg, "param", param);
  require_like(op, "exp_avg_sq", exp_avg_sq, "param", param);
  CudaBackend& be = CudaBackend::instance();
  adamw(be.launch(), param.dtype, param.data, grad.data, exp_avg.data, exp_avg_sq.data, begin, end,
        scalars);
}

double sum_squares_range(const Tensor& t, int64_t begin, int64_t end) {
  require_range("sum of squares", t, begin, end);
  CudaBackend& be = CudaBackend::instance();
  const SumPlan p = plan_sum(end - begin);
  double* partial = be.scratch<double>(slot::partials, static_cast<size_t>(p.blocks));
  double* result = be.scratch<double>(slot::result, 1);
  const char* first =
      static_cast<const char*>(t.data) + begin * static_cast<int64_t>(dtype_size(t.dtype));
  sum(be.launch(), t.dtype, first, end - begin, true, partial, result);
  return fetch(be, result);
}

void scale_in_place(const Tensor& t, double factor) {
  require_float_on_gpu("scale", "tensor", t);
  CudaBackend& be = CudaBackend::instance();
  scale(be.launch(), t.dtype, t.data, factor, t.data, t.numel());
}

bool all_finite(const Tensor& t) {
  require_float_on_gpu("finiteness check", "tensor", t);
  CudaBackend& be = CudaBackend::instance();
  int32_t* flag = be.scratch<int32_t>(slot::result, 1);
  PHA_CUDA_CHECK(cudaMemsetAsync(flag, 0, sizeof(int32_t), be.stream()));
  flag_nonfinite(be.launch(), t.dtype, t.data, t.numel(), flag);
  return fetch(be, flag) == 0;
}

}  // namespace pha::cuda
