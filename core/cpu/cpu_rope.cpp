// TEMPORARY scaffold: replaced by the real kernels.
#include "core/cpu/cpu_backend.h"

namespace pha {

void CpuBackend::rope_forward(const Tensor& x, const Tensor& table, const Tensor& y) { fail("cpu rope_forward: scaffold"); }
void CpuBackend::rope_backward(const Tensor& dy, const Tensor& table, const Tensor& dx) { fail("cpu rope_backward: scaffold"); }

}  // namespace pha
