// TEMPORARY scaffold: replaced by the real kernels.
#include "core/cpu/cpu_backend.h"

namespace pha {

void CpuBackend::cross_entropy_forward(const Tensor& logits, const Tensor& targets, const Tensor& losses, const Tensor& lse) { fail("cpu cross_entropy_forward: scaffold"); }
void CpuBackend::cross_entropy_backward(const Tensor& logits, const Tensor& lse, const Tensor& targets, double scale, const Tensor& dlogits) { fail("cpu cross_entropy_backward: scaffold"); }

}  // namespace pha
