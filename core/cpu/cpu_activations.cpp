// GELU (tanh form, core/math/gelu.h), elementwise over any shape, and row softmax over the last
// dim: x, y [rows, C]. f32 GELU takes its tanh from tanh_rational (core/cpu/fast_tanh.h), on
// whole registers; f64 keeps std::tanh for the gradient checks.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/fast_tanh.h"
#include "core/cpu/simd.h"
#include "core/math/gelu.h"

namespace pha {

namespace {

// Below this many elements an OpenMP team costs more than it saves.
constexpr int64_t kParallelMin = int64_t{1} << 15;

void check_pair(const char* op, const char* a_name, const Tensor& a, const char* b_name,
                const Tensor& b) {
  require_same_shape(op, b_name, b, a_name, a);
  require_same_dtype(op, a, b);
}

// Row ops need a last dim to normalise over.
void check_rows(const char* op, const char* name, const Tensor& t) {
  PHA_REQUIRE(t.rank() >= 1 && t.shape.last() > 0, "{}: {} has shape {}, expected [..., C > 0]", op,
              name, t.shape.str());
}

// f(i, value) for value = x[i] on whole registers, then the tail on scalars: GELU's f32 loops
// written on registers, because GCC 12 leaves the scalar loop unvectorised under AVX2 (the
// clamp's compare counts as control flow; 3.6 GB/s, 9% of a small step on a Zen 3 core).
template <typename Vec, typename Scalar>
void map_f32(int64_t n, const float* x, Vec&& vec, Scalar&& scalar) {
  using S = simd::Simd<float>;
  const int64_t blocks = n / S::width;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t b = 0; b < blocks; ++b) vec(b * S::width, S::load(x + b * S::width));
  for (int64_t i = blocks * S::width; i < n; ++i) scalar(i, x[i]);
}

}  // namespace

void CpuBackend::gelu_forward(const Tensor& x, const Tensor& y) {
  check_pair("gelu_forward", "x", x, "y", y);
  dispatch_float("gelu_forward", x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* xs = x.as<T>();
    T* ys = y.as<T>();
    const int64_t n = x.numel();
    if constexpr (std::is_same_v<T, float>) {
      using V = simd::Simd<float>::Vec;
      const auto gelu = [](auto v) {
        using U = decltype(v);
        return gelu_value_from_tanh<U, float>(v, tanh_rational(gelu_inner<U, float>(v)));
      };
      map_f32(
          n, xs, [&](int64_t i, V v) { simd::Simd<float>::store(ys + i, gelu(v)); },
          [&](int64_t i, float v) { ys[i] = gelu(v); });
    } else {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) ys[i] = gelu_value(xs[i]);
    }
  });
}

void CpuBackend::gelu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) {
  check_pair("gelu_backward", "x", x, "dy", dy);
  check_pair("gelu_backward", "x", x, "dx", dx);
  dispatch_float("gelu_backward", x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* xs = x.as<T>();
    const T* dys = dy.as<T>();
    T* dxs = dx.as<T>();
    const int64_t n = x.numel();
    if constexpr (std::is_same_v<T, float>) {
      using S = simd::Simd<float>;
      const auto grad = [](auto v) {
        using U = decltype(v);
        return gelu_grad_from_tanh<U, float>(v, tanh_rational(gelu_inner<U, float>(v)));
      };
      map_f32(
          n, xs,
          [&](int64_t i, S::Vec v) {
            S::store(dxs + i, S::load(dxs + i) + S::load(dys + i) * grad(v));
          },
          [&](int64_t i, float v) { dxs[i] += dys[i] * grad(v); });
    } else {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) dxs[i] += dys[i] * gelu_grad(xs[i]);
    }
  });
}

void CpuBackend::softmax_forward(const Tensor& x, const Tensor& y) {
  check_pair("softmax_forward", "x", x, "y", y);
  check_rows("softmax_forward", "x", x);
  dispatch_float("softmax_forward", x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const int64_t rows = x.shape.rows(), C = x.shape.last();
    const T* xs = x.as<T>();
    T* ys = y.as<T>();
    // Subtracting the row max keeps exp <= 1; y may alias x (each element is read before written).
#pragma omp parallel for schedule(static) if (rows * C >= kParallelMin)
    for (int64_t r = 0; r < rows; ++r) {
      const T* xr = xs + r * C;
      T* yr = ys + r * C;
      T mx = xr[0];
      for (int64_t j = 1; j < C; ++j) mx = std::max(mx, xr[j]);
      double s = 0;
      for (int64_t j = 0; j < C; ++j) {
        yr[j] = std::exp(xr[j] - mx);
        s += yr[j];
      }
      const T inv = static_cast<T>(1.0 / s);
      for (int64_t j = 0; j < C; ++j) yr[j] *= inv;
    }
  });
}

void CpuBackend::softmax_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) {
  check_pair("softmax_backward", "y", y, "dy", dy);
  check_pair("softmax_backward", "y", y, "dx", dx);
  check_rows("softmax_backward", "y", y);
  dispatch_float("softmax_backward", y.dtype, [&](auto tag) {
    using T = decltype(tag);
    const int64_t rows = y.shape.rows(), C = y.shape.last();
    const T* ys = y.as<T>();
    const T* dys = dy.as<T>();
    T* dxs = dx.as<T>();
    // dx_j += y_j (dy_j - sum_k y_k dy_k).
#pragma omp parallel for schedule(static) if (rows * C >= kParallelMin)
    for (int64_t r = 0; r < rows; ++r) {
      const T* yr = ys + r * C;
      const T* dyr = dys + r * C;
      double dot = 0;
#pragma omp simd reduction(+ : dot)
      for (int64_t j = 0; j < C; ++j) dot += static_cast<double>(yr[j]) * dyr[j];
      const T d = static_cast<T>(dot);
      for (int64_t j = 0; j < C; ++j) dxs[r * C + j] += yr[j] * (dyr[j] - d);
    }
  });
}

}  // namespace pha
