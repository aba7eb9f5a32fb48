// TEMPORARY scaffold: replaced by the real kernels.
#include "core/cpu/cpu_backend.h"

namespace pha {

void CpuBackend::causal_conv_forward(const Tensor& u, const Tensor& kernel, const Tensor& y, ConvAlgo algo) { fail("cpu causal_conv_forward: scaffold"); }
void CpuBackend::causal_conv_backward(const Tensor& dy, const Tensor& u, const Tensor& kernel, const Tensor& du, const Tensor& dkernel, ConvAlgo algo) { fail("cpu causal_conv_backward: scaffold"); }

}  // namespace pha
