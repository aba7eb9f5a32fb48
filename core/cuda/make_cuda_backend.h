#pragma once
// The one way to create the CUDA backend; kept free of CUDA headers so the launcher (built by the
// host compiler) can include it. Only exists in builds with PHA_WITH_CUDA.
#include <memory>

#include "core/backend.h"

namespace pha {

// A backend on GPU `device_index` (0-based among the visible devices). Throws pha::Error saying
// why when no GPU can be used or the index is out of range.
std::unique_ptr<Backend> make_cuda_backend(int device_index);

}  // namespace pha
