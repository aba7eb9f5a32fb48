#include "optim/cuda_kernels.h"

#include "core/version.h"
#if PHA_HAVE_CUDA_BUILD
#include "core/cuda/cuda_optim.h"
#endif

namespace pha {

#if PHA_HAVE_CUDA_BUILD

void adamw_cuda(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                const Tensor& exp_avg_sq, ElementRange range, const AdamWScalars<double>& scalars) {
  cuda::adamw_step(param, grad, exp_avg, exp_avg_sq, range.begin, range.end, scalars);
}

double sum_squares_cuda(const Tensor& t, ElementRange range) {
  return cuda::sum_squares_range(t, range.begin, range.end);
}

void scale_cuda(const Tensor& t, double factor) {
  cuda::scale_in_place(t, factor);
}

bool all_finite_cuda(const Tensor& t) {
  return cuda::all_finite(t);
}

#else

namespace {
[[noreturn]] void no_cuda(const char* op) {
  fail("{}: a tensor is on the GPU but this build has no CUDA backend", op);
}
}  // namespace

void adamw_cuda(const Tensor&, const Tensor&, const Tensor&, const Tensor&, ElementRange,
                const AdamWScalars<double>&) {
  no_cuda("AdamW");
}
double sum_squares_cuda(const Tensor&, ElementRange) {
  no_cuda("gradient norm");
}
void scale_cuda(const Tensor&, double) {
  no_cuda("scale_gradients");
}
bool all_finite_cuda(const Tensor&) {
  no_cuda("first_nonfinite");
}

#endif

}  // namespace pha
