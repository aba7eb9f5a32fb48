#include "optim/cuda_kernels.h"

#include "core/cuda_plugin.h"

namespace pha {

// Through the CUDA plugin (core/cuda_plugin.h), which says so when this build has no CUDA backend.
void adamw_cuda(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                const Tensor& exp_avg_sq, ElementRange range, const AdamWScalars<double>& scalars) {
  cuda_plugin().adamw(param, grad, exp_avg, exp_avg_sq, range, scalars);
}

double sum_squares_cuda(const Tensor& t, ElementRange range) {
  return cuda_plugin().sum_squares(t, range);
}

void scale_cuda(const Tensor& t, double factor) {
  cuda_plugin().scale(t, factor);
}

bool all_finite_cuda(const Tensor& t) {
  return cuda_plugin().all_finite(t);
}

}  // namespace pha
