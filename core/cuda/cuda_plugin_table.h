#pragma once
// The CUDA plugin's table of entry points (core/cuda_plugin.h), filled from this library's
// functions. Plain C++: no CUDA headers.
#include "core/cuda_plugin.h"

namespace pha {

CudaPlugin make_cuda_plugin_table();

}  // namespace pha

// The entry point core/cuda_plugin.cpp looks up: defined in cuda_backend.cpp, so that a program
// that links the CUDA backend statically (the GPU tests, pha_bench_gpu) also carries the table and
// uses it instead of loading a second copy of the backend from the plugin.
extern "C" const pha::CudaPlugin* pha_cuda_plugin();
