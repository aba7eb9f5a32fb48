#include "launch/device_backend.h"

#include "core/cpu/cpu_backend.h"
#include "core/cuda_plugin.h"

namespace pha::launch {

std::unique_ptr<Backend> make_device_backend(const std::string& device, int local_rank) {
  if (device == "cpu") return std::make_unique<CpuBackend>();
  PHA_REQUIRE(device == "cuda", "unknown device '{}': use cpu or cuda", device);
  const CudaPlugin& cuda = cuda_plugin();  // says so when this build has no CUDA backend
  const int count = cuda.device_count();
  PHA_REQUIRE(count > 0, "--device cuda: {}", cuda.unavailable_reason());
  return cuda.make_backend(local_rank % count);
}

}  // namespace pha::launch
