#include "launch/device_backend.h"

#include "core/cpu/cpu_backend.h"
#include "core/version.h"
#if PHA_HAVE_CUDA_BUILD
#include "core/cuda/cuda_device.h"
#include "core/cuda/make_cuda_backend.h"
#endif

namespace pha::launch {

std::unique_ptr<Backend> make_device_backend(const std::string& device, int local_rank) {
  if (device == "cpu") return std::make_unique<CpuBackend>();
  PHA_REQUIRE(device == "cuda", "unknown device '{}': use cpu or cuda", device);
#if PHA_HAVE_CUDA_BUILD
  const int count = cuda_device_count();
  PHA_REQUIRE(count > 0, "--device cuda: {}", cuda_unavailable_reason());
  return make_cuda_backend(local_rank % count);
#else
  fail(
      "--device cuda: this pha was built without the CUDA backend (no CUDA toolkit was found "
      "when it was configured): rebuild with cmake -DPHA_CUDA=ON, or use --device cpu");
#endif
}

}  // namespace pha::launch
