// CudaBackend::matmul through cuBLAS (cublasGemmStridedBatchedEx) with the CPU backend's
// row-major contract; the operand swap that maps it onto column-major cuBLAS is in gemm_plan.h.
//
// Types: f32 x f32 -> f32 in pure fp32 (CUBLAS_COMPUTE_32F, no TF32: it matches the CPU to 1e-6);
// bf16 x bf16 -> bf16 or f32 with fp32 accumulation; f64 x f64 -> f64 (gradient checks).
#include <cublas_v2.h>

#include "core/cuda/cuda_backend.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/gemm_plan.h"

namespace pha {

namespace {

cudaDataType_t cuda_type(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return CUDA_R_32F;
    case DType::f64:
      return CUDA_R_64F;
    case DType::bf16:
      return CUDA_R_16BF;
    case DType::i32:
      break;
  }
  fail("matmul: no cuBLAS type for {}", dtype_name(dtype));
}

void require_matmul_dtypes(const Tensor& a, const Tensor& b, const Tensor& c) {
  const bool ok = (a.dtype == DType::f32 && b.dtype == DType::f32 && c.dtype == DType::f32) ||
                  (a.dtype == DType::f64 && b.dtype == DType::f64 && c.dtype == DType::f64) ||
                  (a.dtype == DType::bf16 && b.dtype == DType::bf16 &&
                   (c.dtype == DType::bf16 || c.dtype == DType::f32));
  PHA_REQUIRE(ok,
              "matmul: a {}, b {}, c {}: the CUDA backend multiplies f32 x f32 -> f32, "
              "f64 x f64 -> f64, or bf16 x bf16 -> bf16 or f32",
              a.describe(), b.describe(), c.describe());
}

}  // namespace

void CudaBackend::matmul(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b,
                         const Tensor& c, double alpha, double beta) {
  cuda::require_on_gpu("matmul", "a", a);
  cuda::require_on_gpu("matmul", "b", b);
  cuda::require_on_gpu("matmul", "c", c);
  require_matmul_dtypes(a, b, c);
  const cuda::GemmPlan p = cuda::plan_gemm(a, trans_a, b, trans_b, c);
  if (p.empty()) return;

  const bool f64 = a.dtype == DType::f64;
  const double alpha64 = alpha, beta64 = beta;
  const float alpha32 = static_cast<float>(alpha), beta32 = static_cast<float>(beta);
  const void* alpha_ptr = f64 ? static_cast<const void*>(&alpha64) : &alpha32;
  const void* beta_ptr = f64 ? static_cast<const void*>(&beta64) : &beta32;
  PHA_CUDA_CHECK(cublasGemmStridedBatchedEx_64(
      cublas_, p.trans_first ? CUBLAS_OP_T : CUBLAS_OP_N,
      p.trans_second ? CUBLAS_OP_T : CUBLAS_OP_N, p.m, p.n, p.k, alpha_ptr, b.data,
      cuda_type(b.dtype), p.ld_first, p.stride_first, a.data, cuda_type(a.dtype), p.ld_second,
      p.stride_second, beta_ptr, c.data, cuda_type(c.dtype), p.ld_c, p.stride_c, p.batch_count,
      f64 ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace pha
