#include "core/cuda/cuda_plugin_table.h"

#include "core/cuda/cuda_device.h"
#include "core/cuda/cuda_optim.h"
#include "core/cuda/make_cuda_backend.h"

namespace pha {

CudaPlugin make_cuda_plugin_table() {
  CudaPlugin p;
  p.version = kCudaPluginVersion;
  p.device_count = &cuda_device_count;
  p.unavailable_reason = &cuda_unavailable_reason;
  p.make_backend = &make_cuda_backend;
  p.adamw = [](const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
               const Tensor& exp_avg_sq, ElementRange range, const AdamWScalars<double>& scalars) {
    cuda::adamw_step(param, grad, exp_avg, exp_avg_sq, range.begin, range.end, scalars);
  };
  p.sum_squares = [](const Tensor& t, ElementRange range) {
    return cuda::sum_squares_range(t, range.begin, range.end);
  };
  p.scale = &cuda::scale_in_place;
  p.all_finite = &cuda::all_finite;
  return p;
}

}  // namespace pha
