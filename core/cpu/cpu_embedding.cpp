// TEMPORARY scaffold: replaced by the real kernels.
#include "core/cpu/cpu_backend.h"

namespace pha {

void CpuBackend::embedding_forward(const Tensor& tokens, const Tensor& table, const Tensor& out) { fail("cpu embedding_forward: scaffold"); }
void CpuBackend::embedding_backward(const Tensor& tokens, const Tensor& dout, const Tensor& dtable) { fail("cpu embedding_backward: scaffold"); }

}  // namespace pha
