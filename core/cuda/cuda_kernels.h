#pragma once
// Launchers of the CUDA kernels, defined in the .cu files: plain C++ entry points that the
// CudaBackend members call after validating shapes and dtypes. fmt-free (see cuda_check.h).
//
// Element-wise kernels take n elements of one storage dtype: f32 and bf16 are computed in f32,
// f64 in f64. Every kernel is launched on l.stream and returns without waiting.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"

namespace pha::cuda {

constexpr int kBlock = 256;  // threads per block of the grid-stride kernels

struct Launch {
  cudaStream_t stream = nullptr;
  int64_t max_blocks = 1;  // grid-stride kernels launch at most this many blocks
};

// p[i] = value (f32, f64, bf16 or i32).
void fill(const Launch& l, DType dtype, void* p, int64_t n, double value);
// dst[i] = src[i] converted (f32, f64, bf16 in any pair; to bf16 rounds to nearest even).
void convert(const Launch& l, DType from, const void* src, DType to, void* dst, int64_t n);
void add(const Launch& l, DType dtype, const void* a, const void* b, void* out, int64_t n);
void mul(const Launch& l, DType dtype, const void* a, const void* b, void* out, int64_t n);
// da[i] += dy[i] * b[i]; db[i] += dy[i] * a[i]. A null da or db is skipped.
void mul_backward(const Launch& l, DType dtype, const void* dy, const void* a, const void* b,
                  void* da, void* db, int64_t n);
void scale(const Launch& l, DType dtype, const void* x, double s, void* out, int64_t n);
// y[i] += s * x[i]
void axpy(const Launch& l, DType dtype, double s, const void* x, void* y, int64_t n);
// y[i] = gelu(x[i]) (y may alias x); dx[i] += gelu'(x[i]) * dy[i].
void gelu_forward(const Launch& l, DType dtype, const void* x, void* y, int64_t n);
void gelu_backward(const Launch& l, DType dtype, const void* x, const void* dy, void* dx,
                   int64_t n);

// For the launchers' dtype dispatch: the CudaBackend members refuse other dtypes first, with the
// op's own message, so reaching this is a bug.
[[noreturn]] void refuse_dtype(const char* op, DType dtype);

}  // namespace pha::cuda
