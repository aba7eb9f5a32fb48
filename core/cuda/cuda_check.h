#pragma once
// Checks for CUDA runtime, cuBLAS and cuFFT calls: a failed call throws pha::Error naming the
// call, where it was made, the library's error name and text, and what to do about it.
//
// This header is deliberately free of fmt (and so of core/error.h, core/tensor.h): nvcc in C++20
// mode cannot compile fmt 9's headers, so .cu files include only fmt-free headers and every
// message is formatted in cuda_check.cpp, which the host compiler builds.
#include <cublas_api.h>
#include <cuda_runtime_api.h>
#include <cufft.h>

namespace pha::cuda {

[[noreturn]] void fail_call(cudaError_t status, const char* call, const char* file, int line);
[[noreturn]] void fail_call(cublasStatus_t status, const char* call, const char* file, int line);
[[noreturn]] void fail_call(cufftResult status, const char* call, const char* file, int line);

[[noreturn]] void fail_launch(cudaError_t status, const char* kernel, const char* file, int line);

inline void check_call(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess) fail_call(status, call, file, line);
}
inline void check_call(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) fail_call(status, call, file, line);
}
inline void check_call(cufftResult status, const char* call, const char* file, int line) {
  if (status != CUFFT_SUCCESS) fail_call(status, call, file, line);
}

inline void check_launch(cudaError_t status, const char* kernel, const char* file, int line) {
  if (status != cudaSuccess) fail_launch(status, kernel, file, line);
}

}  // namespace pha::cuda

// Wraps a CUDA runtime, cuBLAS or cuFFT call (overloaded on the status type it returns).
#define PHA_CUDA_CHECK(call) ::pha::cuda::check_call((call), #call, __FILE__, __LINE__)

// After a kernel launch: reports a bad launch (configuration, no code for this GPU) at once,
// naming the kernel. A fault inside the kernel surfaces at the next synchronizing call.
#define PHA_CUDA_CHECK_LAUNCH(kernel) \
  ::pha::cuda::check_launch(cudaGetLastError(), (kernel), __FILE__, __LINE__)
