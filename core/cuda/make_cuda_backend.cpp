#include "core/cuda/make_cuda_backend.h"

#include "core/cuda/cuda_backend.h"
#include "core/cuda/cuda_device.h"

namespace pha {

std::unique_ptr<Backend> make_cuda_backend(int device_index) {
  const int count = cuda_device_count();
  PHA_REQUIRE(count > 0, "cannot create the CUDA backend: {}; run with --device cpu",
              cuda_unavailable_reason());
  PHA_REQUIRE(device_index >= 0 && device_index < count,
              "cannot create the CUDA backend on GPU {}: {} GPU(s) are visible (indices 0..{}); "
              "check CUDA_VISIBLE_DEVICES and the ranks per node",
              device_index, count, count - 1);
  return std::make_unique<CudaBackend>(device_index);
}

}  // namespace pha
