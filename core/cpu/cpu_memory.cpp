// CpuBackend: memory, copies, fills and scratch.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/fft_plan_cache.h"

namespace pha {

CpuBackend::CpuBackend() : fft_plans_(std::make_unique<FftPlanCache>()) {}

CpuBackend::~CpuBackend() {
  for (auto& slot : scratch_) std::free(slot.ptr);
}

void* CpuBackend::allocate(size_t bytes, const std::string& label) {
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* ptr = std::aligned_alloc(64, rounded);
  PHA_REQUIRE(ptr != nullptr,
              "out of host memory allocating {:.1f} MiB for '{}': use a smaller model, batch or "
              "sequence length, or more ranks",
              static_cast<double>(bytes) / (1 << 20), label);
  return ptr;
}

void CpuBackend::release(void* ptr) {
  std::free(ptr);
}

// Zeroing precedes most accumulating ops (+= into gradients and scratch): one thread's memset
// ran at ~10 GB/s, 4.8% of a tiny step on a Zen 3; large buffers are split over the team.
void CpuBackend::memset_zero(void* ptr, size_t bytes) {
  constexpr size_t kParallelBytes = size_t{1} << 20, kChunk = size_t{1} << 16;
  if (bytes < kParallelBytes) {
    std::memset(ptr, 0, bytes);
    return;
  }
  char* base = static_cast<char*>(ptr);
  const int64_t chunks = static_cast<int64_t>((bytes + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    const size_t begin = static_cast<size_t>(c) * kChunk;
    std::memset(base + begin, 0, std::min(kChunk, bytes - begin));
  }
}

void CpuBackend::copy_from_host(const Tensor& dst, const void* src) {
  std::memcpy(dst.data, src, dst.bytes());
}

void CpuBackend::copy_to_host(const Tensor& src, void* dst) {
  std::memcpy(dst, src.data, src.bytes());
}

void CpuBackend::copy(const Tensor& src, const Tensor& dst) {
  PHA_REQUIRE(src.numel() == dst.numel(), "copy: {} and {} differ in element count", src.describe(),
              dst.describe());
  if (src.dtype == dst.dtype) {
    std::memmove(dst.data, src.data, src.bytes());
    return;
  }
  dispatch_float("copy", src.dtype, [&](auto s) {
    using S = decltype(s);
    dispatch_float("copy", dst.dtype, [&](auto d) {
      using D = decltype(d);
      const S* in = src.as<S>();
      D* out = dst.as<D>();
      for (int64_t i = 0; i < src.numel(); ++i) out[i] = static_cast<D>(in[i]);
    });
  });
}

void CpuBackend::fill(const Tensor& t, double value) {
  if (t.dtype == DType::i32) {
    int32_t* p = t.as<int32_t>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<int32_t>(value);
    return;
  }
  dispatch_float("fill", t.dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.as<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(value);
  });
}

void* CpuBackend::scratch_bytes(int slot, size_t bytes) {
  if (scratch_.size() <= static_cast<size_t>(slot)) scratch_.resize(static_cast<size_t>(slot) + 1);
  ScratchSlot& s = scratch_[static_cast<size_t>(slot)];
  if (s.bytes < bytes) {
    std::free(s.ptr);
    s.bytes = (bytes + 63) / 64 * 64;
    s.ptr = std::aligned_alloc(64, s.bytes);
    PHA_REQUIRE(s.ptr != nullptr, "out of host memory for {} bytes of op scratch", bytes);
  }
  return s.ptr;
}

}  // namespace pha
