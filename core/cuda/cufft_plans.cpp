#include "core/cuda/cufft_plans.h"

#include "core/cuda/cuda_check.h"

namespace pha {

CufftPlans::~CufftPlans() {
  // Statuses ignored: called while the backend is torn down (see CudaBackend::destroy).
  for (auto& [key, plan] : plans_) cufftDestroy(plan);
}

cufftHandle CufftPlans::get(bool f64, bool inverse, int64_t n, int64_t batch) {
  const auto key = std::make_tuple(f64, inverse, n, batch);
  if (auto it = plans_.find(key); it != plans_.end()) return it->second;
  long long len[1] = {n};
  long long real_embed[1] = {n};
  long long complex_embed[1] = {n / 2 + 1};
  const cufftType type =
      f64 ? (inverse ? CUFFT_Z2D : CUFFT_D2Z) : (inverse ? CUFFT_C2R : CUFFT_R2C);
  cufftHandle plan = 0;
  PHA_CUDA_CHECK(cufftCreate(&plan));
  size_t work_bytes = 0;
  // Time-major: stride `batch` between the samples of a signal, distance 1 between signals.
  const cufftResult made =
      cufftMakePlanMany64(plan, 1, len, inverse ? complex_embed : real_embed, batch, 1,
                          inverse ? real_embed : complex_embed, batch, 1, type, batch, &work_bytes);
  if (made != CUFFT_SUCCESS) {
    cufftDestroy(plan);
    cuda::fail_call(made, "cufftMakePlanMany64", __FILE__, __LINE__);
  }
  const cufftResult bound = cufftSetStream(plan, stream_);
  if (bound != CUFFT_SUCCESS) {
    cufftDestroy(plan);
    cuda::fail_call(bound, "cufftSetStream", __FILE__, __LINE__);
  }
  plans_.emplace(key, plan);
  on_work_area_(work_bytes);
  return plan;
}

}  // namespace pha
