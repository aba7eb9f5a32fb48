// TEMPORARY scaffold: replaced by the real kernels.
#include "core/cpu/cpu_backend.h"

namespace pha {

void CpuBackend::add(const Tensor& a, const Tensor& b, const Tensor& out) { fail("cpu add: scaffold"); }
void CpuBackend::mul(const Tensor& a, const Tensor& b, const Tensor& out) { fail("cpu mul: scaffold"); }
void CpuBackend::mul_backward(const Tensor& dy, const Tensor& a, const Tensor& b, const Tensor& da, const Tensor& db) { fail("cpu mul_backward: scaffold"); }
void CpuBackend::scale(const Tensor& x, double s, const Tensor& out) { fail("cpu scale: scaffold"); }
void CpuBackend::axpy(double s, const Tensor& x, const Tensor& y) { fail("cpu axpy: scaffold"); }
void CpuBackend::channel_fma_forward(const Tensor& x, const Tensor& d, const Tensor& c, const Tensor& y) { fail("cpu channel_fma_forward: scaffold"); }
void CpuBackend::channel_fma_backward(const Tensor& dy, const Tensor& x, const Tensor& d, const Tensor& dx, const Tensor& dd, const Tensor& dc) { fail("cpu channel_fma_backward: scaffold"); }
double CpuBackend::sum(const Tensor& x) { fail("cpu sum: scaffold"); }
double CpuBackend::sum_squares(const Tensor& x) { fail("cpu sum_squares: scaffold"); }
void CpuBackend::sum_rows(const Tensor& x, const Tensor& out) { fail("cpu sum_rows: scaffold"); }

}  // namespace pha
