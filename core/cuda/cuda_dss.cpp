// CudaBackend simplified DSS kernel, as the CPU backend computes it (cpu_dss.cpp): two GEMMs
// (cuBLAS, through matmul) against the Vandermonde matrix A [T, 2N], A[t, n] = Re V[n, t],
// A[t, N + n] = -Im V[n, t], V[n, t] = exp(Lambda_n t), built on the GPU in double and rounded
// once:
//   forward   K [T, H]  = A Ct2^T,        Ct2 [H, 2N] = [Re Ct | Im Ct]
//   backward  G [H, 2N] = dK^T A,  W [H, 2N] = (t dK)^T A, then the per-mode chain rule.
// f32 or f64 (the kernel is computed in fp32 at least, also under bf16 training).
#include "core/cuda/cuda_backend.h"
#include "core/dss_shapes.h"

namespace pha {

namespace {

constexpr int64_t kModeDoubles = 6;  // per mode: Lambda, f(Lambda), f'(Lambda)

// The shared shape contract, plus what the GPU needs: device memory and f32 or f64.
DssDims require_dss(const char* op, const Tensor& lambda_re, const Tensor& lambda_im,
                    const Tensor& c_re, const Tensor& c_im, const Tensor& kernel,
                    const char* kernel_name) {
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"lambda_re", &lambda_re},
                                {"lambda_im", &lambda_im},
                                {"c_re", &c_re},
                                {"c_im", &c_im},
                                {kernel_name, &kernel}})
    cuda::require_on_gpu(op, name, *t);
  PHA_REQUIRE(lambda_re.dtype == DType::f32 || lambda_re.dtype == DType::f64,
              "{}: lambda_re is {}; the DSS kernel is computed in f32 or f64", op,
              lambda_re.describe());
  return check_dss_shapes(op, lambda_re, lambda_im, c_re, c_im, kernel, kernel_name);
}

// A scratch buffer as a GPU tensor of `shape` (for matmul).
Tensor scratch_tensor(CudaBackend& be, int slot, DType dtype, Shape shape) {
  Tensor t(nullptr, dtype, Device::cuda, shape);
  t.data = be.scratch<char>(slot, t.bytes());
  return t;
}

}  // namespace

void CudaBackend::dss_kernel_forward(const Tensor& lambda_re, const Tensor& lambda_im,
                                     const Tensor& c_re, const Tensor& c_im, const Tensor& kernel) {
  const char* op = "dss_kernel_forward";
  const DssDims d = require_dss(op, lambda_re, lambda_im, c_re, c_im, kernel, "kernel");
  const DType dt = kernel.dtype;
  double* modes = scratch<double>(cuda::slot::b, static_cast<size_t>(d.n * kModeDoubles));
  const Tensor a = scratch_tensor(*this, cuda::slot::c, dt, Shape{d.t, 2 * d.n});
  const Tensor ct = scratch_tensor(*this, cuda::slot::d, dt, Shape{d.h, 2 * d.n});
  cuda::dss_modes(launch(), dt, lambda_re.data, lambda_im.data, modes, d.n);
  cuda::dss_vandermonde(launch(), dt, modes, a.data, d.t, d.n);
  cuda::dss_ct(launch(), dt, modes, c_re.data, c_im.data, ct.data, d.h, d.n);
  matmul(a, false, ct, true, kernel, 1.0, 0.0);
}

void CudaBackend::dss_kernel_backward(const Tensor& dkernel, const Tensor& lambda_re,
                                      const Tensor& lambda_im, const Tensor& c_re,
                                      const Tensor& c_im, const Tensor& dlambda_re,
                                      const Tensor& dlambda_im, const Tensor& dc_re,
                                      const Tensor& dc_im) {
  const char* op = "dss_kernel_backward";
  const DssDims d = require_dss(op, lambda_re, lambda_im, c_re, c_im, dkernel, "dkernel");
  if (!dlambda_re.empty()) cuda::require_like(op, "dlambda_re", dlambda_re, "lambda_re", lambda_re);
  if (!dlambda_im.empty()) cuda::require_like(op, "dlambda_im", dlambda_im, "lambda_im", lambda_im);
  if (!dc_re.empty()) cuda::require_like(op, "dc_re", dc_re, "c_re", c_re);
  if (!dc_im.empty()) cuda::require_like(op, "dc_im", dc_im, "c_im", c_im);
  const bool want_lambda = !dlambda_re.empty() || !dlambda_im.empty();
  if (!want_lambda && dc_re.empty() && dc_im.empty()) return;
  const DType dt = dkernel.dtype;
  double* modes = scratch<double>(cuda::slot::b, static_cast<size_t>(d.n * kModeDoubles));
  const Tensor a = scratch_tensor(*this, cuda::slot::c, dt, Shape{d.t, 2 * d.n});
  const Tensor g = scratch_tensor(*this, cuda::slot::d, dt, Shape{d.h, 2 * d.n});
  cuda::dss_modes(launch(), dt, lambda_re.data, lambda_im.data, modes, d.n);
  cuda::dss_vandermonde(launch(), dt, modes, a.data, d.t, d.n);
  matmul(dkernel, true, a, false, g, 1.0, 0.0);
  Tensor w;
  if (want_lambda) {
    const Tensor tdk = scratch_tensor(*this, cuda::slot::e, dt, dkernel.shape);
    cuda::dss_time_scaled(launch(), dt, dkernel.data, tdk.data, d.t, d.h);
    w = scratch_tensor(*this, cuda::slot::a, dt, Shape{d.h, 2 * d.n});
    matmul(tdk, true, a, false, w, 1.0, 0.0);
  }
  const auto ptr = [](const Tensor& t) { return t.empty() ? nullptr : t.data; };
  cuda::dss_param_grads(launch(), dt, modes, g.data, ptr(w), c_re.data, c_im.data, ptr(dc_re),
                        ptr(dc_im), ptr(dlambda_re), ptr(dlambda_im), d.h, d.n);
}

}  // namespace pha
