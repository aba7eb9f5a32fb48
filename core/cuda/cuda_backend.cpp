// CudaBackend: lifetime, device memory, copies, fills, and the tensor checks of the op files.
#include "core/cuda/cuda_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_plugin_table.h"
#include "core/cuda/cufft_plans.h"

namespace pha {

namespace {
// cuBLAS's recommended workspace on Hopper; given explicitly so cuBLAS never allocates in a step.
constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// The live backends, for CudaBackend::instance().
std::mutex live_mutex;
std::vector<CudaBackend*> live_backends;
}  // namespace

CudaBackend& CudaBackend::instance() {
  std::lock_guard<std::mutex> lock(live_mutex);
  PHA_REQUIRE(live_backends.size() == 1,
              "the CUDA optimiser kernels run on the stream of the process's one CUDA backend, "
              "but {} are alive: create exactly one (make_cuda_backend) before the optimiser step",
              live_backends.size());
  return *live_backends.front();
}

CudaBackend::CudaBackend(int device_index) : device_index_(device_index) {
  try {
    PHA_CUDA_CHECK(cudaSetDevice(device_index));
    cudaDeviceProp prop{};
    PHA_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_index));
    name_ = fmt::format("cuda:{} ({}, sm_{}{}, {:.0f} GiB)", device_index, prop.name, prop.major,
                        prop.minor, static_cast<double>(prop.totalGlobalMem) / kGiB);
    max_blocks_ = int64_t{prop.multiProcessorCount} *
                  std::max(1, prop.maxThreadsPerMultiProcessor / cuda::kBlock);
    PHA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    PHA_CUDA_CHECK(cublasCreate(&cublas_));
    PHA_CUDA_CHECK(cublasSetStream(cublas_, stream_));
    PHA_CUDA_CHECK(cudaMalloc(&cublas_workspace_, kCublasWorkspaceBytes));
    count_allocation(kCublasWorkspaceBytes);
    PHA_CUDA_CHECK(cublasSetWorkspace(cublas_, cublas_workspace_, kCublasWorkspaceBytes));
    fft_plans_ =
        std::make_unique<CufftPlans>(stream_, [this](size_t bytes) { count_allocation(bytes); });
  } catch (...) {
    destroy();
    throw;
  }
  std::lock_guard<std::mutex> lock(live_mutex);
  live_backends.push_back(this);
}

CudaBackend::~CudaBackend() {
  {
    std::lock_guard<std::mutex> lock(live_mutex);
    live_backends.erase(std::remove(live_backends.begin(), live_backends.end(), this),
                        live_backends.end());
  }
  destroy();
}

void CudaBackend::destroy() noexcept {
  // Statuses are ignored: this runs from the destructor, and after a kernel fault every call
  // fails anyway. Pending work on the stream finishes before its resources go.
  if (stream_) cudaStreamSynchronize(stream_);
  fft_plans_.reset();
  for (ScratchSlot& s : scratch_) cudaFree(s.ptr);
  scratch_.clear();
  if (cublas_) cublasDestroy(cublas_);
  if (cublas_workspace_) cudaFree(cublas_workspace_);
  if (stream_) cudaStreamDestroy(stream_);
  cublas_ = nullptr;
  cublas_workspace_ = nullptr;
  stream_ = nullptr;
}

void* CudaBackend::allocate(size_t bytes, const std::string& label) {
  void* ptr = nullptr;
  const cudaError_t status = cudaMalloc(&ptr, bytes);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    fail(
        "out of GPU memory allocating {:.1f} MiB for '{}' on {} ({:.2f} of {:.2f} GiB free): use "
        "a smaller model, batch or sequence length, or more ranks",
        static_cast<double>(bytes) / (1 << 20), label, name_,
        static_cast<double>(free_bytes) / kGiB, static_cast<double>(total_bytes) / kGiB);
  }
  cuda::check_call(status, "cudaMalloc", __FILE__, __LINE__);
  allocated_[ptr] = bytes;
  count_allocation(bytes);
  return ptr;
}

void CudaBackend::count_allocation(size_t bytes) {
  memory_.current += bytes;
  memory_.peak = std::max(memory_.peak, memory_.current);
}

void CudaBackend::count_release(void* ptr) {
  const auto it = allocated_.find(ptr);
  if (it == allocated_.end()) return;
  memory_.current -= it->second;
  allocated_.erase(it);
}

void CudaBackend::release(void* ptr) {
  // Arena calls this from its noexcept destructor and move assignment: report, never throw.
  count_release(ptr);
  const cudaError_t status = cudaFree(ptr);
  if (status != cudaSuccess) {
    cudaGetLastError();
    std::fprintf(stderr, "pha: warning: cudaFree on %s failed: %s (%s)\n", name_.c_str(),
                 cudaGetErrorName(status), cudaGetErrorString(status));
  }
}

void CudaBackend::memset_zero(void* ptr, size_t bytes) {
  PHA_CUDA_CHECK(cudaMemsetAsync(ptr, 0, bytes, stream_));
}

// Host-side copies wait for the stream: the caller may reuse or free the host buffer (pageable
// or pinned) as soon as the call returns, and reads the result right away.
void CudaBackend::copy_from_host(const Tensor& dst, const void* src) {
  cuda::require_on_gpu("copy_from_host", "dst", dst);
  PHA_CUDA_CHECK(cudaMemcpyAsync(dst.data, src, dst.bytes(), cudaMemcpyHostToDevice, stream_));
  PHA_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackend::copy_to_host(const Tensor& src, void* dst) {
  cuda::require_on_gpu("copy_to_host", "src", src);
  PHA_CUDA_CHECK(cudaMemcpyAsync(dst, src.data, src.bytes(), cudaMemcpyDeviceToHost, stream_));
  PHA_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackend::copy(const Tensor& src, const Tensor& dst) {
  cuda::require_on_gpu("copy", "src", src);
  cuda::require_on_gpu("copy", "dst", dst);
  PHA_REQUIRE(src.numel() == dst.numel(), "copy: {} and {} differ in element count", src.describe(),
              dst.describe());
  if (src.dtype == dst.dtype) {
    // Unlike the CPU's memmove, src and dst must not partly overlap (no op needs that).
    if (src.data != dst.data && src.bytes() > 0)
      PHA_CUDA_CHECK(
          cudaMemcpyAsync(dst.data, src.data, src.bytes(), cudaMemcpyDeviceToDevice, stream_));
    return;
  }
  cuda::require_float_on_gpu("copy", "src", src);
  cuda::require_float_on_gpu("copy", "dst", dst);
  cuda::convert(launch(), src.dtype, src.data, dst.dtype, dst.data, src.numel());
}

void CudaBackend::fill(const Tensor& t, double value) {
  cuda::require_on_gpu("fill", "t", t);
  cuda::fill(launch(), t.dtype, t.data, t.numel(), value);
}

void CudaBackend::synchronize() {
  PHA_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void* CudaBackend::scratch_bytes(int slot, size_t bytes) {
  if (scratch_.size() <= static_cast<size_t>(slot)) scratch_.resize(static_cast<size_t>(slot) + 1);
  ScratchSlot& s = scratch_[static_cast<size_t>(slot)];
  if (s.bytes < bytes) {
    // Earlier ops on the stream may still read the old buffer.
    PHA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    count_release(s.ptr);
    PHA_CUDA_CHECK(cudaFree(s.ptr));
    s.ptr = nullptr;
    s.bytes = 0;
    s.ptr = allocate(bytes, "op scratch");
    s.bytes = bytes;
  }
  return s.ptr;
}

namespace cuda {

void require_on_gpu(const char* op, const char* what, const Tensor& t) {
  PHA_REQUIRE(t.device == Device::cuda,
              "{}: {} is {}, but the CUDA backend works on GPU tensors: allocate it from the CUDA "
              "backend (an Arena) and fill it with copy_from_host",
              op, what, t.describe());
}

void require_float_on_gpu(const char* op, const char* what, const Tensor& t) {
  require_on_gpu(op, what, t);
  PHA_REQUIRE(t.dtype == DType::f32 || t.dtype == DType::f64 || t.dtype == DType::bf16,
              "{}: {} is {}; the CUDA backend computes on f32, f64 or bf16 tensors", op, what,
              t.describe());
}

void require_like(const char* op, const char* what, const Tensor& t, const char* ref_name,
                  const Tensor& ref) {
  require_on_gpu(op, what, t);
  require_same_shape(op, what, t, ref_name, ref);
  PHA_REQUIRE(t.dtype == ref.dtype, "{}: {} is {} but {} is {}; the operands share one dtype", op,
              what, t.describe(), ref_name, ref.describe());
}

DType compute_dtype(DType activations) {
  return activations == DType::f64 ? DType::f64 : DType::f32;
}

void require_row_stat(const char* op, const char* what, const Tensor& t, const char* act_name,
                      const Tensor& act) {
  require_on_gpu(op, what, t);
  PHA_REQUIRE(t.numel() == act.shape.rows(),
              "{}: {} has shape {}, expected one value per row of {} {} ({} rows)", op, what,
              t.shape.str(), act_name, act.shape.str(), act.shape.rows());
  PHA_REQUIRE(t.dtype == compute_dtype(act.dtype),
              "{}: {} is {} but must be {} (row statistics of {} {} are kept in its compute type)",
              op, what, t.describe(), dtype_name(compute_dtype(act.dtype)), act_name,
              act.describe());
}

void require_param(const char* op, const char* what, const Tensor& t, const Shape& shape,
                   const Tensor& act) {
  require_on_gpu(op, what, t);
  require_shape(op, what, t, shape);
  PHA_REQUIRE(t.dtype == act.dtype || (act.dtype == DType::bf16 && t.dtype == DType::f32),
              "{}: {} is {} but the activations are {}; a parameter has their dtype (or f32 "
              "under bf16 activations)",
              op, what, t.describe(), act.describe());
}

void refuse_dtype(const char* op, DType dtype) {
  fail("{}: the CUDA backend has no kernel for {} tensors (f32, f64 and bf16 only)", op,
       dtype_name(dtype));
}

}  // namespace cuda

}  // namespace pha

extern "C" __attribute__((visibility("default"))) const pha::CudaPlugin* pha_cuda_plugin() {
  static const pha::CudaPlugin table = pha::make_cuda_plugin_table();
  return &table;
}
