// TEMPORARY scaffold: replaced by the real kernels.
#include "core/cpu/cpu_backend.h"

namespace pha {

void CpuBackend::matmul(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, const Tensor& c, double alpha, double beta) { fail("cpu matmul: scaffold"); }

}  // namespace pha
