#pragma once
// Device-side helpers for the .cu files: storage <-> compute conversion, dtype dispatch and the
// grid-stride launch. Include only fmt-free headers here (see cuda_check.h).
#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_kernels.h"

namespace pha::cuda {

using bf16 = __nv_bfloat16;

// The type a kernel computes in for a storage type: f32 for f32 and bf16, f64 for f64.
template <typename S>
struct ComputeOf {
  using type = float;
};
template <>
struct ComputeOf<double> {
  using type = double;
};
template <typename S>
using compute_t = typename ComputeOf<S>::type;

__device__ __forceinline__ float load(const bf16* p, int64_t i) {
  return __bfloat162float(p[i]);
}
__device__ __forceinline__ float load(const float* p, int64_t i) {
  return p[i];
}
__device__ __forceinline__ double load(const double* p, int64_t i) {
  return p[i];
}

// Rounds to the storage type (to nearest even for bf16, also directly from f64).
__device__ __forceinline__ void store(bf16* p, int64_t i, float v) {
  p[i] = __float2bfloat16_rn(v);
}
__device__ __forceinline__ void store(bf16* p, int64_t i, double v) {
  p[i] = __double2bfloat16(v);
}
__device__ __forceinline__ void store(float* p, int64_t i, float v) {
  p[i] = v;
}
__device__ __forceinline__ void store(float* p, int64_t i, double v) {
  p[i] = static_cast<float>(v);
}
__device__ __forceinline__ void store(double* p, int64_t i, float v) {
  p[i] = v;
}
__device__ __forceinline__ void store(double* p, int64_t i, double v) {
  p[i] = v;
}

// Runs fn(S{}, P{}) for activations of storage type S and a parameter of storage type P: P = S,
// or P = float under bf16 activations (see CudaBackend's mixed-precision rule).
template <typename Fn>
void dispatch_act_param(const char* op, DType act, DType param, Fn&& fn) {
  if (act == DType::f32 && param == DType::f32) return fn(float{}, float{});
  if (act == DType::f64 && param == DType::f64) return fn(double{}, double{});
  if (act == DType::bf16 && param == DType::bf16) return fn(bf16{}, bf16{});
  if (act == DType::bf16 && param == DType::f32) return fn(bf16{}, float{});
  refuse_dtype(op, param);
}

// Runs fn(S{}) with S the storage type of `dtype` (f32, f64 or bf16).
template <typename Fn>
void dispatch_float(const char* op, DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::f32:
      fn(float{});
      return;
    case DType::f64:
      fn(double{});
      return;
    case DType::bf16:
      fn(bf16{});
      return;
    default:
      refuse_dtype(op, dtype);
  }
}

template <typename C>
__device__ __forceinline__ C neg_infinity() {
  return -static_cast<C>(INFINITY);
}

// Sum and max over the 32 lanes of a warp (butterfly: every lane gets the same value, in an order
// fixed by the lane numbers, so the result is reproducible).
template <typename A>
__device__ __forceinline__ A warp_sum(A v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
template <typename A>
__device__ __forceinline__ A warp_max(A v) {
  for (int o = 16; o > 0; o >>= 1) v = max(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum / max over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the
// result. `shared` holds 32 values; calls may follow one another with the same buffer.
template <typename A>
__device__ A block_sum(A v, A* shared) {
  v = warp_sum(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();  // a previous call's readers of shared[0] are done
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x >> 5) ? shared[lane] : A(0);
    v = warp_sum(v);
    if (lane == 0) shared[0] = v;
  }
  __syncthreads();
  return shared[0];
}
template <typename A>
__device__ A block_max(A v, A* shared) {
  v = warp_max(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x >> 5) ? shared[lane] : neg_infinity<A>();
    v = warp_max(v);
    if (lane == 0) shared[0] = v;
  }
  __syncthreads();
  return shared[0];
}

template <typename Body>
__global__ void for_each_kernel(int64_t n, Body body) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    body(i);
}

// body(i) for i in [0, n) on l.stream; body is a functor with a __device__ operator()(int64_t).
template <typename Body>
void for_each(const Launch& l, const char* kernel, int64_t n, const Body& body) {
  if (n == 0) return;
  const int64_t blocks = std::min<int64_t>((n + kBlock - 1) / kBlock, l.max_blocks);
  for_each_kernel<<<static_cast<unsigned>(blocks), kBlock, 0, l.stream>>>(n, body);
  PHA_CUDA_CHECK_LAUNCH(kernel);
}

}  // namespace pha::cuda
