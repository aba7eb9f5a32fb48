// TEMPORARY scaffold: replaced by the real kernels.
#include "core/cpu/cpu_backend.h"

namespace pha {

void CpuBackend::dss_kernel_forward(const Tensor& lambda_re, const Tensor& lambda_im, const Tensor& c_re, const Tensor& c_im, const Tensor& kernel) { fail("cpu dss_kernel_forward: scaffold"); }
void CpuBackend::dss_kernel_backward(const Tensor& dkernel, const Tensor& lambda_re, const Tensor& lambda_im, const Tensor& c_re, const Tensor& c_im, const Tensor& dlambda_re, const Tensor& dlambda_im, const Tensor& dc_re, const Tensor& dc_im) { fail("cpu dss_kernel_backward: scaffold"); }

}  // namespace pha
