// Messages for failed CUDA runtime, cuBLAS and cuFFT calls: what failed, and what to do.
#include "core/cuda/cuda_check.h"

#include <fmt/format.h>

#include "core/error.h"

namespace pha::cuda {

namespace {

constexpr const char* kOutOfMemory =
    "the GPU is out of memory: use a smaller model, batch or sequence length, or more ranks";
constexpr const char* kKernelFault =
    "a kernel faulted and this process's CUDA context is unusable: rerun the failing step under "
    "compute-sanitizer (see tests/gpu/run-device-checks.sh) to find the kernel and the address";
constexpr const char* kNoGpu =
    "no usable GPU: install or update the NVIDIA driver, check nvidia-smi and "
    "CUDA_VISIBLE_DEVICES, or run with --device cpu";
constexpr const char* kBug =
    "pha passed the library arguments it refuses: this is a bug in pha's CUDA backend, please "
    "report it with this message";
constexpr const char* kGeneric =
    "check the GPU with nvidia-smi, or run with --device cpu to bypass it";

const char* advice(cudaError_t status) {
  switch (status) {
    case cudaErrorMemoryAllocation:
      return kOutOfMemory;
    case cudaErrorInsufficientDriver:
    case cudaErrorNoDevice:
    case cudaErrorInvalidDevice:
    case cudaErrorDevicesUnavailable:
      return kNoGpu;
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion:
      return "this build has no code for this GPU: rebuild with "
             "-DCMAKE_CUDA_ARCHITECTURES=<the GPU's compute capability, e.g. 90 for H100>";
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorMisalignedAddress:
    case cudaErrorIllegalInstruction:
    case cudaErrorHardwareStackError:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
      return kKernelFault;
    case cudaErrorInvalidValue:
    case cudaErrorInvalidConfiguration:
    case cudaErrorInvalidDevicePointer:
    case cudaErrorInvalidResourceHandle:
      return kBug;
    default:
      return kGeneric;
  }
}

const char* cublas_advice(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_ALLOC_FAILED:
      return kOutOfMemory;
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return kNoGpu;
    case CUBLAS_STATUS_INVALID_VALUE:
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return kBug;
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "this GPU lacks a feature the call needs (bf16 matmuls need compute capability 8.0 "
             "or newer): use f32, or run on a newer GPU";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return kKernelFault;
    default:
      return kGeneric;
  }
}

const char* cufft_name(cufftResult status) {
  switch (status) {
    case CUFFT_SUCCESS:
      return "CUFFT_SUCCESS";
    case CUFFT_INVALID_PLAN:
      return "CUFFT_INVALID_PLAN";
    case CUFFT_ALLOC_FAILED:
      return "CUFFT_ALLOC_FAILED";
    case CUFFT_INVALID_TYPE:
      return "CUFFT_INVALID_TYPE";
    case CUFFT_INVALID_VALUE:
      return "CUFFT_INVALID_VALUE";
    case CUFFT_INTERNAL_ERROR:
      return "CUFFT_INTERNAL_ERROR";
    case CUFFT_EXEC_FAILED:
      return "CUFFT_EXEC_FAILED";
    case CUFFT_SETUP_FAILED:
      return "CUFFT_SETUP_FAILED";
    case CUFFT_INVALID_SIZE:
      return "CUFFT_INVALID_SIZE";
    case CUFFT_UNALIGNED_DATA:
      return "CUFFT_UNALIGNED_DATA";
    case CUFFT_INVALID_DEVICE:
      return "CUFFT_INVALID_DEVICE";
    case CUFFT_NO_WORKSPACE:
      return "CUFFT_NO_WORKSPACE";
    case CUFFT_NOT_IMPLEMENTED:
      return "CUFFT_NOT_IMPLEMENTED";
    case CUFFT_NOT_SUPPORTED:
      return "CUFFT_NOT_SUPPORTED";
    case CUFFT_MISSING_DEPENDENCY:
      return "CUFFT_MISSING_DEPENDENCY";
    case CUFFT_NVRTC_FAILURE:
      return "CUFFT_NVRTC_FAILURE";
    case CUFFT_NVJITLINK_FAILURE:
      return "CUFFT_NVJITLINK_FAILURE";
    case CUFFT_NVSHMEM_FAILURE:
      return "CUFFT_NVSHMEM_FAILURE";
  }
  return "an unknown cufftResult";
}

const char* cufft_advice(cufftResult status) {
  switch (status) {
    case CUFFT_ALLOC_FAILED:
      return kOutOfMemory;
    case CUFFT_INVALID_DEVICE:
      return kNoGpu;
    case CUFFT_INVALID_PLAN:
    case CUFFT_INVALID_TYPE:
    case CUFFT_INVALID_VALUE:
    case CUFFT_INVALID_SIZE:
    case CUFFT_UNALIGNED_DATA:
      return kBug;
    case CUFFT_EXEC_FAILED:
      return kKernelFault;
    default:
      return kGeneric;
  }
}

}  // namespace

void fail_call(cudaError_t status, const char* call, const char* file, int line) {
  // Clears the runtime's last-error slot, so a later unrelated check does not report this error
  // again (sticky errors from kernel faults stay: the context is lost).
  cudaGetLastError();
  throw Error(fmt::format("CUDA call {} failed ({}:{}): {} ({}). {}", call, file, line,
                          cudaGetErrorName(status), cudaGetErrorString(status), advice(status)));
}

void fail_launch(cudaError_t status, const char* kernel, const char* file, int line) {
  cudaGetLastError();
  throw Error(fmt::format("CUDA kernel {} failed to launch ({}:{}): {} ({}). {}", kernel, file,
                          line, cudaGetErrorName(status), cudaGetErrorString(status),
                          advice(status)));
}

void fail_call(cublasStatus_t status, const char* call, const char* file, int line) {
  throw Error(fmt::format("cuBLAS call {} failed ({}:{}): {} ({}). {}", call, file, line,
                          cublasGetStatusName(status), cublasGetStatusString(status),
                          cublas_advice(status)));
}

void fail_call(cufftResult status, const char* call, const char* file, int line) {
  throw Error(fmt::format("cuFFT call {} failed ({}:{}): {}. {}", call, file, line,
                          cufft_name(status), cufft_advice(status)));
}

}  // namespace pha::cuda
