// Device discovery. On a machine without a driver cudaGetDeviceCount returns
// cudaErrorInsufficientDriver (35), without a GPU cudaErrorNoDevice (100): both mean 0 devices.
#include "core/cuda/cuda_device.h"

#include <cuda_runtime_api.h>
#include <fmt/format.h>

namespace pha {

namespace {

struct Probe {
  int count = 0;
  std::string reason;
};

Probe probe() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    // Not a failure of the program: clear the last-error slot where the runtime allows it. (When
    // the runtime could not initialise at all, every call, this one too, keeps returning that
    // error; no other CUDA call is made then.)
    cudaGetLastError();
    const char* hint =
        status == cudaErrorInsufficientDriver
            ? "no NVIDIA driver is loaded, or it is older than the CUDA runtime pha was built with"
        : status == cudaErrorNoDevice
            ? "the driver sees no GPU (check nvidia-smi and CUDA_VISIBLE_DEVICES)"
            : "the CUDA runtime could not start (check nvidia-smi)";
    return {0, fmt::format("no usable CUDA GPU: cudaGetDeviceCount returned {} ({}): {}",
                           cudaGetErrorName(status), cudaGetErrorString(status), hint)};
  }
  if (count == 0) return {0, "no usable CUDA GPU: the driver reports 0 devices"};
  return {count, ""};
}

}  // namespace

int cuda_device_count() {
  return probe().count;
}

std::string cuda_unavailable_reason() {
  return probe().reason;
}

}  // namespace pha
