#include "optim/cpu_kernels.h"

#include <array>
#include <cmath>

#include "core/cpu/cpu_backend.h"

namespace pha {

namespace {
// Below this many elements a loop runs on one thread: starting a team costs more than it saves.
constexpr int64_t kParallelMin = 1 << 15;
}  // namespace

void adamw_cpu(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
               const Tensor& exp_avg_sq, ElementRange range, const AdamWScalars<double>& scalars) {
  dispatch_float("adamw", param.dtype, [&](auto tag) {
    using T = decltype(tag);
    const AdamWScalars<T> s{static_cast<T>(scalars.lr),
                            static_cast<T>(scalars.beta1),
                            static_cast<T>(scalars.beta2),
                            static_cast<T>(scalars.eps),
                            static_cast<T>(scalars.weight_decay),
                            static_cast<T>(scalars.bias_correction1),
                            static_cast<T>(scalars.bias_correction2)};
    T* p = param.as<T>();
    const T* g = grad.as<T>();
    T* m = exp_avg.as<T>();
    T* v = exp_avg_sq.as<T>();
#pragma omp parallel for schedule(static) if (range.size() >= kParallelMin)
    for (int64_t i = range.begin; i < range.end; ++i) adamw_update(p[i], g[i], m[i], v[i], s);
  });
}

double sum_squares_cpu(const Tensor& t, ElementRange range) {
  // A fixed split into kChunks pieces, each summed in order, then the pieces summed in order.
  constexpr int kChunks = 64;
  std::array<double, kChunks> partial{};
  dispatch_float("sum of squares", t.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* x = t.as<T>();
    const int64_t n = range.size();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int c = 0; c < kChunks; ++c) {
      const int64_t lo = range.begin + n * c / kChunks;
      const int64_t hi = range.begin + n * (c + 1) / kChunks;
      double s = 0.0;
      for (int64_t i = lo; i < hi; ++i) s += static_cast<double>(x[i]) * static_cast<double>(x[i]);
      partial[static_cast<size_t>(c)] = s;
    }
  });
  double total = 0.0;
  for (double s : partial) total += s;
  return total;
}

void scale_cpu(const Tensor& t, double factor) {
  dispatch_float("scale", t.dtype, [&](auto tag) {
    using T = decltype(tag);
    T* x = t.as<T>();
    const T f = static_cast<T>(factor);
    const int64_t n = t.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) x[i] *= f;
  });
}

bool all_finite_cpu(const Tensor& t) {
  bool finite = true;
  dispatch_float("finiteness check", t.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* x = t.as<T>();
    const int64_t n = t.numel();
#pragma omp parallel for schedule(static) reduction(&& : finite) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) finite = finite && std::isfinite(x[i]);
  });
  return finite;
}

}  // namespace pha
