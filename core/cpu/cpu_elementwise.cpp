// Elementwise ops and reductions. Loops run under OpenMP once a tensor is large enough to pay for
// the threads. Reductions accumulate in double over a partition fixed by the sizes alone, so their
// results do not depend on the thread count.
#include <algorithm>
#include <initializer_list>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/parallel.h"

namespace pha {
namespace {

using cpu::column_sums;
using cpu::for_rows;
using cpu::parallel_for;
using cpu::reduce;

constexpr int kScratchSlot = 0;  // channel_fma_backward's dd partial sums [kParts, C]

// Every non-empty tensor shares the first one's shape and dtype.
void require_alike(const char* op,
                   std::initializer_list<std::pair<const char*, const Tensor*>> ts) {
  const auto& [first_name, first] = *ts.begin();
  for (const auto& [name, t] : ts) {
    if (t->empty()) continue;
    require_same_shape(op, name, *t, first_name, *first);
    require_same_dtype(op, *t, *first);
  }
}

// x [rows, C] and a channel vector d [C].
void require_channel(const char* op, const Tensor& x, const char* name, const Tensor& d) {
  PHA_REQUIRE(x.rank() >= 1, "{}: x {} needs a channel dim", op, x.shape.str());
  require_shape(op, name, d, {x.shape.last()});
  require_same_dtype(op, x, d);
}

}  // namespace

void CpuBackend::add(const Tensor& a, const Tensor& b, const Tensor& out) {
  require_alike("add", {{"a", &a}, {"b", &b}, {"out", &out}});
  dispatch_float("add", a.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *x = a.as<T>(), *y = b.as<T>();
    T* o = out.as<T>();
    parallel_for(a.numel(), [&](int64_t i) { o[i] = x[i] + y[i]; });
  });
}

void CpuBackend::mul(const Tensor& a, const Tensor& b, const Tensor& out) {
  require_alike("mul", {{"a", &a}, {"b", &b}, {"out", &out}});
  dispatch_float("mul", a.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *x = a.as<T>(), *y = b.as<T>();
    T* o = out.as<T>();
    parallel_for(a.numel(), [&](int64_t i) { o[i] = x[i] * y[i]; });
  });
}

// da += dy * b; db += dy * a.
void CpuBackend::mul_backward(const Tensor& dy, const Tensor& a, const Tensor& b, const Tensor& da,
                              const Tensor& db) {
  require_alike("mul_backward", {{"dy", &dy}, {"a", &a}, {"b", &b}, {"da", &da}, {"db", &db}});
  dispatch_float("mul_backward", dy.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *g = dy.as<T>(), *x = a.as<T>(), *y = b.as<T>();
    if (!da.empty()) {
      T* dx = da.as<T>();
      parallel_for(dy.numel(), [&](int64_t i) { dx[i] += g[i] * y[i]; });
    }
    if (!db.empty()) {
      T* dz = db.as<T>();
      parallel_for(dy.numel(), [&](int64_t i) { dz[i] += g[i] * x[i]; });
    }
  });
}

void CpuBackend::scale(const Tensor& x, double s, const Tensor& out) {
  require_alike("scale", {{"x", &x}, {"out", &out}});
  dispatch_float("scale", x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.as<T>();
    T* o = out.as<T>();
    const T k = static_cast<T>(s);
    parallel_for(x.numel(), [&](int64_t i) { o[i] = k * in[i]; });
  });
}

void CpuBackend::axpy(double s, const Tensor& x, const Tensor& y) {
  require_alike("axpy", {{"x", &x}, {"y", &y}});
  dispatch_float("axpy", x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.as<T>();
    T* o = y.as<T>();
    const T k = static_cast<T>(s);
    parallel_for(x.numel(), [&](int64_t i) { o[i] += k * in[i]; });
  });
}

// y = c + x * d: x, c, y [rows, C], d [C]. y may alias c or x.
void CpuBackend::channel_fma_forward(const Tensor& x, const Tensor& d, const Tensor& c,
                                     const Tensor& y) {
  const char* op = "channel_fma_forward";
  require_alike(op, {{"x", &x}, {"c", &c}, {"y", &y}});
  require_channel(op, x, "d", d);
  dispatch_float(op, x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *in = x.as<T>(), *ch = d.as<T>(), *skip = c.as<T>();
    T* o = y.as<T>();
    const int64_t C = x.shape.last();
    for_rows(x.shape.rows(), C, [&](int64_t r) {
      for (int64_t i = r * C, c = 0; c < C; ++i, ++c) o[i] = skip[i] + in[i] * ch[c];
    });
  });
}

// dx += dy * d; dd += sum_rows(dy * x); dc += dy.
void CpuBackend::channel_fma_backward(const Tensor& dy, const Tensor& x, const Tensor& d,
                                      const Tensor& dx, const Tensor& dd, const Tensor& dc) {
  const char* op = "channel_fma_backward";
  require_alike(op, {{"dy", &dy}, {"x", &x}, {"dx", &dx}, {"dc", &dc}});
  require_channel(op, x, "d", d);
  if (!dd.empty()) require_channel(op, x, "dd", dd);
  dispatch_float(op, x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T *g = dy.as<T>(), *in = x.as<T>(), *ch = d.as<T>();
    const int64_t C = x.shape.last();
    T* o_dx = dx.empty() ? nullptr : dx.as<T>();
    T* o_dc = dc.empty() ? nullptr : dc.as<T>();
    const bool want_dd = !dd.empty();
    // One pass over dy: each row updates dx and dc and adds dy * x to the dd sums.
    double* partial =
        scratch<double>(kScratchSlot, static_cast<size_t>(cpu::kParts * (want_dd ? C : 1)));
    cpu::row_pass_with_sums(
        x.shape.rows(), C, want_dd ? C : 1, partial, want_dd ? dd.as<T>() : nullptr,
        [&](int64_t r0, int64_t r1, double* acc) {
          for (int64_t r = r0; r < r1; ++r) {
            const int64_t at = r * C;
            if (o_dx) {
#pragma omp simd
              for (int64_t c = 0; c < C; ++c) o_dx[at + c] += g[at + c] * ch[c];
            }
            if (o_dc) {
#pragma omp simd
              for (int64_t c = 0; c < C; ++c) o_dc[at + c] += g[at + c];
            }
            if (want_dd) {
#pragma omp simd
              for (int64_t c = 0; c < C; ++c)
                acc[c] += static_cast<double>(g[at + c]) * static_cast<double>(in[at + c]);
            }
          }
        });
  });
}

double CpuBackend::sum(const Tensor& x) {
  double total = 0;
  dispatch_float("sum", x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.as<T>();
    total = reduce(x.numel(), [&](int64_t i) { return static_cast<double>(in[i]); });
  });
  return total;
}

double CpuBackend::sum_squares(const Tensor& x) {
  double total = 0;
  dispatch_float("sum_squares", x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.as<T>();
    total = reduce(x.numel(), [&](int64_t i) {
      const double v = static_cast<double>(in[i]);
      return v * v;
    });
  });
  return total;
}

// out[c] += sum over rows of x[r, c]: x [rows, C], out [C].
void CpuBackend::sum_rows(const Tensor& x, const Tensor& out) {
  PHA_REQUIRE(x.rank() >= 1, "sum_rows: x {} needs a last dim", x.shape.str());
  require_shape("sum_rows", "out", out, {x.shape.last()});
  require_same_dtype("sum_rows", x, out);
  dispatch_float("sum_rows", x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.as<T>();
    const int64_t C = x.shape.last();
    column_sums(x.shape.rows(), C, out.as<T>(),
                [&](int64_t r, int64_t c) { return static_cast<double>(in[r * C + c]); });
  });
}

}  // namespace pha
