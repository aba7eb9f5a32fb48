#pragma once
// The fixture of the CUDA-vs-CPU op tests: every op runs on both backends on the same random
// inputs, and the GPU result is compared with the CPU backend's (the reference) by norm-wise
// relative error, printed with its tolerance. Without a GPU each test skips with the reason.
//
// Dtypes: an operand is made for a GPU dtype; its CPU twin holds the same values in f64 (GPU f64)
// or f32 (GPU f32 and bf16: bf16 inputs are rounded first, so both sides see the same numbers and
// only the GPU's output rounding and compute order count).
//
// Each test file names its suite in lower case (using cuda_<family> = CudaVsCpu), so that
// `ctest -R cuda` (case-sensitive) selects them and names stay unique across the binaries.
//
// Tolerances (norm-wise relative error), unless a test states its own:
// - f32: 1e-5 (both sides compute in f32 or wider, in different orders).
// - f64: 1e-12.
// - bf16 outputs: 4e-3 = 2^-8, twice bf16's rounding error of 2^-9 (the GPU rounds each stored
//   output once; the CPU reference stays in f32).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/cpu/cpu_backend.h"
#include "core/cuda/cuda_device.h"
#include "core/cuda/make_cuda_backend.h"
#include "tests/test_util.h"

namespace pha::test {

constexpr double kF32Tol = 1e-5;
constexpr double kF64Tol = 1e-12;
constexpr double kBf16Tol = 4e-3;

inline double tolerance(DType dtype) {
  return dtype == DType::f64 ? kF64Tol : dtype == DType::bf16 ? kBf16Tol : kF32Tol;
}

inline std::string name(DType dtype) {
  return std::string(dtype_name(dtype));
}

// bf16 on the host: the top half of an f32's bits, rounded to nearest even (as the GPU rounds).
inline uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

inline float from_bf16(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// The value a tensor of `dtype` stores for v.
inline double stored(double v, DType dtype) {
  if (dtype == DType::f32) return static_cast<float>(v);
  if (dtype == DType::bf16) return from_bf16(to_bf16(static_cast<float>(v)));
  return v;
}

// normal(mean, stddev) values from Philox (seed, stream 7, index).
inline std::vector<double> randn(int64_t n, uint64_t seed, double stddev = 1.0, double mean = 0.0) {
  std::vector<double> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = mean + stddev * philox_normal(seed, 7, i);
  return v;
}

inline void report(const std::string& what, double err, double tol) {
  std::printf("  %-52s rel error %.3e  (tol %.1e)\n", what.c_str(), err, tol);
  EXPECT_LE(err, tol) << what;
}

// One operand on both backends.
struct Twin {
  Tensor cpu, gpu;
};

// The CPU dtype that serves as reference for a GPU dtype.
inline DType reference_dtype(DType gpu) {
  return gpu == DType::f64 ? DType::f64 : gpu == DType::i32 ? DType::i32 : DType::f32;
}

class CudaVsCpu : public ::testing::Test {
 public:
  void SetUp() override {
    if (cuda_device_count() == 0) GTEST_SKIP() << cuda_unavailable_reason();
    gpu_ = make_cuda_backend(0);
  }

  void TearDown() override {
    for (void* p : gpu_buffers_) gpu_->release(p);
    for (void* p : cpu_buffers_) cpu_.release(p);
  }

  Backend& gpu() { return *gpu_; }
  CpuBackend& cpu() { return cpu_; }

  // An operand holding `values` rounded to `dtype` on the GPU, and the same numbers on the CPU.
  Twin make(const std::vector<double>& values, Shape shape, DType dtype) {
    EXPECT_EQ(static_cast<size_t>(shape.numel()), values.size());
    Twin t{host_tensor(shape, reference_dtype(dtype)), gpu_tensor(shape, dtype)};
    std::vector<double> rounded(values);
    for (double& v : rounded) v = stored(v, dtype);
    write(t.cpu, rounded);
    std::vector<char> host(t.gpu.bytes());
    encode(rounded, dtype, host.data());
    gpu_->copy_from_host(t.gpu, host.data());
    return t;
  }
  Twin randn_twin(Shape shape, DType dtype, uint64_t seed, double stddev = 1.0) {
    return make(randn(shape.numel(), seed, stddev), shape, dtype);
  }
  Twin zeros(Shape shape, DType dtype) {
    return make(std::vector<double>(static_cast<size_t>(shape.numel()), 0.0), shape, dtype);
  }

  std::vector<double> values(const Tensor& t) {
    std::vector<char> host(t.bytes());
    if (t.device == Device::cuda)
      gpu_->copy_to_host(t, host.data());
    else
      std::memcpy(host.data(), t.data, t.bytes());
    return decode(host.data(), t.dtype, t.numel());
  }

  // Prints and checks the GPU result against the CPU reference.
  void compare(const std::string& what, const Twin& t, double tol) {
    report(what, rel_error(values(t.gpu), values(t.cpu)), tol);
  }

 private:
  Tensor host_tensor(Shape shape, DType dtype) {
    Tensor t(nullptr, dtype, Device::cpu, shape);
    t.data = cpu_.allocate(std::max<size_t>(t.bytes(), 1), "test");
    cpu_buffers_.push_back(t.data);
    return t;
  }
  Tensor gpu_tensor(Shape shape, DType dtype) {
    Tensor t(nullptr, dtype, Device::cuda, shape);
    t.data = gpu_->allocate(std::max<size_t>(t.bytes(), 1), "test");
    gpu_buffers_.push_back(t.data);
    return t;
  }
  static void write(const Tensor& t, const std::vector<double>& v) { encode(v, t.dtype, t.data); }
  static void encode(const std::vector<double>& v, DType dtype, void* out) {
    for (size_t i = 0; i < v.size(); ++i) {
      switch (dtype) {
        case DType::f32:
          static_cast<float*>(out)[i] = static_cast<float>(v[i]);
          break;
        case DType::f64:
          static_cast<double*>(out)[i] = v[i];
          break;
        case DType::bf16:
          static_cast<uint16_t*>(out)[i] = to_bf16(static_cast<float>(v[i]));
          break;
        case DType::i32:
          static_cast<int32_t*>(out)[i] = static_cast<int32_t>(v[i]);
          break;
      }
    }
  }
  static std::vector<double> decode(const void* in, DType dtype, int64_t n) {
    std::vector<double> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i) {
      switch (dtype) {
        case DType::f32:
          v[i] = static_cast<const float*>(in)[i];
          break;
        case DType::f64:
          v[i] = static_cast<const double*>(in)[i];
          break;
        case DType::bf16:
          v[i] = from_bf16(static_cast<const uint16_t*>(in)[i]);
          break;
        case DType::i32:
          v[i] = static_cast<const int32_t*>(in)[i];
          break;
      }
    }
    return v;
  }

  CpuBackend cpu_;
  std::unique_ptr<Backend> gpu_;
  std::vector<void*> gpu_buffers_, cpu_buffers_;
};

}  // namespace pha::test
