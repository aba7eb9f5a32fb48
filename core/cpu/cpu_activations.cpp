// TEMPORARY scaffold: replaced by the real kernels.
#include "core/cpu/cpu_backend.h"

namespace pha {

void CpuBackend::gelu_forward(const Tensor& x, const Tensor& y) { fail("cpu gelu_forward: scaffold"); }
void CpuBackend::gelu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) { fail("cpu gelu_backward: scaffold"); }
void CpuBackend::softmax_forward(const Tensor& x, const Tensor& y) { fail("cpu softmax_forward: scaffold"); }
void CpuBackend::softmax_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) { fail("cpu softmax_backward: scaffold"); }

}  // namespace pha
