// TEMPORARY scaffold: replaced by the real kernels.
#include "core/cpu/cpu_backend.h"

namespace pha {

void CpuBackend::attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse, int64_t window) { fail("cpu attention_forward: scaffold"); }
void CpuBackend::attention_backward(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse, const Tensor& dq, const Tensor& dk, const Tensor& dv, int64_t window) { fail("cpu attention_backward: scaffold"); }

}  // namespace pha
