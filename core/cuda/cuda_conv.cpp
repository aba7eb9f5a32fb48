// CudaBackend causal long convolution of GSS (the CPU backend's contract, cpu_conv.cpp):
//   y[b, t, h]  = sum_{s <= t} K[t - s, h] u[b, s, h]
//   du[b, s, h] += sum_{t >= s} K[t - s, h] dy[b, t, h]
//   dK[j, h]    += sum_b sum_{t >= j} dy[b, t, h] u[b, t - j, h]
// ConvAlgo::fft: real FFTs (cuFFT, fp32 for f32 and bf16, fp64 for f64) of length n >= 2T, zero
// padded so the circular products never wrap: y = ifft(fft(u) fft(K)), du = ifft(conj(fft(K))
// fft(dy)), dK = ifft(sum_b conj(fft(u_b)) fft(dy_b)), each / n. The B H signals are batched in
// one transform over time-major buffers [n, B H] (cufft_plans.h). ConvAlgo::direct: the O(T^2)
// sums in ascending order (bit-exact causality, a test mode).
#include <cufft.h>

#include "core/cuda/cuda_backend.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cufft_plans.h"
#include "core/cuda/launch_plan.h"

namespace pha {

namespace {

struct ConvDims {
  int64_t b, t, h;
};

ConvDims require_conv(const char* op, const Tensor& u, const Tensor& kernel) {
  cuda::require_float_on_gpu(op, "u", u);
  require_rank(op, "u", u, 3);
  const ConvDims d{u.dim(0), u.dim(1), u.dim(2)};
  cuda::require_on_gpu(op, "kernel", kernel);
  PHA_REQUIRE(kernel.shape == Shape({d.t, d.h}),
              "{}: kernel has shape {} but u {} needs [T, H] = [{}, {}]", op, kernel.shape.str(),
              u.shape.str(), d.t, d.h);
  // Under mixed precision the kernel stays f32 beside bf16 signals (the FFTs are f32 either way).
  PHA_REQUIRE(kernel.dtype == u.dtype || (u.dtype == DType::bf16 && kernel.dtype == DType::f32),
              "{}: kernel is {} but u is {}; the kernel has u's dtype, or f32 beside bf16", op,
              kernel.describe(), u.describe());
  return d;
}

void require_direct_dtypes(const char* op, const Tensor& u, const Tensor& kernel) {
  PHA_REQUIRE(kernel.dtype == u.dtype,
              "{}: ConvAlgo::direct needs the kernel in u's dtype ({}), got {}: use ConvAlgo::fft",
              op, dtype_name(u.dtype), kernel.describe());
}

// The FFT buffers of one call, in scratch: real [n, B H], spectra [bins, B H] or [bins, H].
struct FftBuffers {
  int64_t n, bins, cols;
  bool f64;
  size_t real_bytes, complex_bytes;
  FftBuffers(const ConvDims& d, DType dtype)
      : n(cuda::conv_fft_size(d.t)),
        bins(n / 2 + 1),
        cols(d.b * d.h),
        f64(dtype == DType::f64),
        real_bytes(f64 ? sizeof(double) : sizeof(float)),
        complex_bytes(2 * real_bytes) {}
  void* real(CudaBackend& be) const {
    return be.scratch<char>(cuda::slot::a, static_cast<size_t>(n * cols) * real_bytes);
  }
  void* spectrum(CudaBackend& be, int slot, int64_t width) const {
    return be.scratch<char>(slot, static_cast<size_t>(bins * width) * complex_bytes);
  }
};

void rfft(CudaBackend& be, const FftBuffers& f, int64_t batch, void* in, void* out) {
  const cufftHandle plan = be.fft_plans().get(f.f64, false, f.n, batch);
  if (f.f64)
    PHA_CUDA_CHECK(cufftExecD2Z(plan, static_cast<cufftDoubleReal*>(in),
                                static_cast<cufftDoubleComplex*>(out)));
  else
    PHA_CUDA_CHECK(
        cufftExecR2C(plan, static_cast<cufftReal*>(in), static_cast<cufftComplex*>(out)));
}

// Unnormalised inverse; destroys `in`.
void irfft(CudaBackend& be, const FftBuffers& f, int64_t batch, void* in, void* out) {
  const cufftHandle plan = be.fft_plans().get(f.f64, true, f.n, batch);
  if (f.f64)
    PHA_CUDA_CHECK(cufftExecZ2D(plan, static_cast<cufftDoubleComplex*>(in),
                                static_cast<cufftDoubleReal*>(out)));
  else
    PHA_CUDA_CHECK(
        cufftExecC2R(plan, static_cast<cufftComplex*>(in), static_cast<cufftReal*>(out)));
}

// spectrum = rfft of src [batch, T, H] zero-padded to n, batch * H signals.
void transform(CudaBackend& be, const FftBuffers& f, const ConvDims& d, DType dtype, int64_t batch,
               const void* src, void* spectrum) {
  void* buf = f.real(be);
  cuda::conv_load(be.launch(), dtype, src, buf, batch, d.t, d.h, f.n);
  rfft(be, f, batch * d.h, buf, spectrum);
}

// dst [batch, T, H] (+)= irfft(spectrum)[:T] / n.
void untransform(CudaBackend& be, const FftBuffers& f, const ConvDims& d, DType dtype,
                 int64_t batch, void* spectrum, void* dst, bool accumulate) {
  void* buf = f.real(be);
  irfft(be, f, batch * d.h, spectrum, buf);
  cuda::conv_store(be.launch(), dtype, buf, dst, batch, d.t, d.h, 1.0 / static_cast<double>(f.n),
                   accumulate);
}

}  // namespace

void CudaBackend::causal_conv_forward(const Tensor& u, const Tensor& kernel, const Tensor& y,
                                      ConvAlgo algo) {
  const char* op = "causal_conv_forward";
  const ConvDims d = require_conv(op, u, kernel);
  cuda::require_like(op, "y", y, "u", u);
  if (d.b == 0 || d.t == 0 || d.h == 0) return;
  if (algo == ConvAlgo::direct) {
    require_direct_dtypes(op, u, kernel);
    cuda::conv_direct_forward(launch(), u.dtype, u.data, kernel.data, y.data, d.b, d.t, d.h);
    return;
  }
  const FftBuffers f(d, u.dtype);
  void* k_hat = f.spectrum(*this, cuda::slot::b, d.h);
  void* x = f.spectrum(*this, cuda::slot::c, f.cols);
  transform(*this, f, d, kernel.dtype, 1, kernel.data, k_hat);
  transform(*this, f, d, u.dtype, d.b, u.data, x);
  cuda::conv_multiply(launch(), f.f64, k_hat, x, f.bins, d.b, d.h, false);
  untransform(*this, f, d, u.dtype, d.b, x, y.data, false);
}

void CudaBackend::causal_conv_backward(const Tensor& dy, const Tensor& u, const Tensor& kernel,
                                       const Tensor& du, const Tensor& dkernel, ConvAlgo algo) {
  const char* op = "causal_conv_backward";
  const ConvDims d = require_conv(op, u, kernel);
  cuda::require_like(op, "dy", dy, "u", u);
  if (!du.empty()) cuda::require_like(op, "du", du, "u", u);
  if (!dkernel.empty()) cuda::require_like(op, "dkernel", dkernel, "kernel", kernel);
  if (d.b == 0 || d.t == 0 || d.h == 0 || (du.empty() && dkernel.empty())) return;
  if (algo == ConvAlgo::direct) {
    require_direct_dtypes(op, u, kernel);
    cuda::conv_direct_backward(launch(), u.dtype, dy.data, u.data, kernel.data,
                               du.empty() ? nullptr : du.data,
                               dkernel.empty() ? nullptr : dkernel.data, d.b, d.t, d.h);
    return;
  }
  const FftBuffers f(d, u.dtype);
  void* g = f.spectrum(*this, cuda::slot::c, f.cols);  // fft(dy)
  transform(*this, f, d, u.dtype, d.b, dy.data, g);
  if (!dkernel.empty()) {  // first: it reads g, which the du path overwrites
    void* u_hat = f.spectrum(*this, cuda::slot::d, f.cols);
    void* acc = f.spectrum(*this, cuda::slot::e, d.h);
    transform(*this, f, d, u.dtype, d.b, u.data, u_hat);
    cuda::conv_correlate(launch(), f.f64, u_hat, g, acc, f.bins, d.b, d.h);
    untransform(*this, f, d, kernel.dtype, 1, acc, dkernel.data, true);
  }
  if (!du.empty()) {
    void* k_hat = f.spectrum(*this, cuda::slot::b, d.h);
    transform(*this, f, d, kernel.dtype, 1, kernel.data, k_hat);
    cuda::conv_multiply(launch(), f.f64, k_hat, g, f.bins, d.b, d.h, true);
    untransform(*this, f, d, u.dtype, d.b, g, du.data, true);
  }
}

}  // namespace pha
