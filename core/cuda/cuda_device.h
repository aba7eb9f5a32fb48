#pragma once
// Whether this process can use a GPU. Safe to call on machines without a driver or a GPU.
#include <string>

namespace pha {

// Visible CUDA devices; 0 when there is no driver, no GPU, or the runtime cannot start.
int cuda_device_count();

// Why no GPU can be used (the runtime's error name and text and what to do), or "" when
// cuda_device_count() > 0.
std::string cuda_unavailable_reason();

}  // namespace pha
