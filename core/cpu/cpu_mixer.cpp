// TEMPORARY scaffold: replaced by the real kernels.
#include "core/cpu/cpu_backend.h"

namespace pha {

void CpuBackend::mixer_weights_forward(const Tensor& alpha, const Tensor& w, bool normalize) { fail("cpu mixer_weights_forward: scaffold"); }
void CpuBackend::mixer_weights_backward(const Tensor& w, const Tensor& dw, const Tensor& dalpha, bool normalize) { fail("cpu mixer_weights_backward: scaffold"); }
void CpuBackend::mixer_forward(const Tensor* branches, int n, const Tensor& w, const Tensor& out) { fail("cpu mixer_forward: scaffold"); }
void CpuBackend::mixer_backward(const Tensor& dout, const Tensor* branches, int n, const Tensor& w, const Tensor* dbranches, const Tensor& dw) { fail("cpu mixer_backward: scaffold"); }

}  // namespace pha
