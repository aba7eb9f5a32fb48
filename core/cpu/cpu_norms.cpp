// TEMPORARY scaffold: replaced by the real kernels.
#include "core/cpu/cpu_backend.h"

namespace pha {

void CpuBackend::rmsnorm_forward(const Tensor& x, const Tensor& g, const Tensor& y, const Tensor& rstd, double eps) { fail("cpu rmsnorm_forward: scaffold"); }
void CpuBackend::rmsnorm_backward(const Tensor& dy, const Tensor& x, const Tensor& g, const Tensor& rstd, const Tensor& dx, const Tensor& dg) { fail("cpu rmsnorm_backward: scaffold"); }
void CpuBackend::layernorm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& y, const Tensor& mean, const Tensor& rstd, double eps) { fail("cpu layernorm_forward: scaffold"); }
void CpuBackend::layernorm_backward(const Tensor& dy, const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd, const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) { fail("cpu layernorm_backward: scaffold"); }

}  // namespace pha
