// RMSNorm and LayerNorm over the last dim: x, y [rows, C], gains [C], saved statistics [rows].
// Row statistics and the reductions of backward are accumulated in double for both dtypes.
#include <algorithm>
#include <cmath>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/simd.h"

namespace pha {

namespace {

constexpr int kScratchSlot = 0;
// Below this many elements an OpenMP team costs more than it saves.
constexpr int64_t kParallelMin = int64_t{1} << 15;
// Parameter gradients are reduced over rows in this many fixed row chunks (each with its own
// partial sums, added in chunk order), so the result does not depend on the thread count.
constexpr int64_t kChunks = 64;

// x [rows, C] with C > 0; `param` [C]; `same` shaped as x; `stat` one value per row of x.
void check_norm(const char* op, const Tensor& x, const char* param_name, const Tensor& param,
                const char* same_name, const Tensor& same, const char* stat_name,
                const Tensor& stat) {
  PHA_REQUIRE(x.rank() >= 1 && x.shape.last() > 0, "{}: x has shape {}, expected [..., C > 0]", op,
              x.shape.str());
  require_shape(op, param_name, param, Shape{x.shape.last()});
  require_same_shape(op, same_name, same, "x", x);
  PHA_REQUIRE(stat.numel() == x.shape.rows(),
              "{}: {} has shape {}, expected one value per row of x {} ({} rows)", op, stat_name,
              stat.shape.str(), x.shape.str(), x.shape.rows());
  require_same_dtype(op, x, param);
  require_same_dtype(op, x, same);
  require_same_dtype(op, x, stat);
}

// Runs row_fn(row, partial) for every row; partial points at `width` doubles of the row's chunk
// (zeroed first). Returns the partial sums, `chunks` blocks of `width` (to be added in order).
template <typename RowFn>
const double* rows_with_partials(CpuBackend& cpu, int64_t rows, int64_t width, int64_t& chunks,
                                 RowFn&& row_fn) {
  chunks = std::min(rows, kChunks);
  double* partial = cpu.scratch<double>(kScratchSlot, static_cast<size_t>(chunks * width));
#pragma omp parallel for schedule(dynamic, 1) if (rows * width >= kParallelMin)
  for (int64_t c = 0; c < chunks; ++c) {
    double* mine = partial + c * width;
    std::fill(mine, mine + width, 0.0);
    for (int64_t r = rows * c / chunks; r < rows * (c + 1) / chunks; ++r) row_fn(r, mine);
  }
  return partial;
}

// out[j] += sum over chunks of partial[c, j], in chunk order.
template <typename T>
void add_partials(const double* partial, int64_t chunks, int64_t width, int64_t offset, int64_t n,
                  T* out) {
#pragma omp parallel for schedule(static) if (chunks * n >= kParallelMin)
  for (int64_t j = 0; j < n; ++j) {
    double s = 0;
    for (int64_t c = 0; c < chunks; ++c) s += partial[c * width + offset + j];
    out[j] += static_cast<T>(s);
  }
}

}  // namespace

void CpuBackend::rmsnorm_forward(const Tensor& x, const Tensor& g, const Tensor& y,
                                 const Tensor& rstd, double eps) {
  check_norm("rmsnorm_forward", x, "g", g, "y", y, "rstd", rstd);
  PHA_REQUIRE(eps >= 0, "rmsnorm_forward: eps must be >= 0, got {}", eps);
  dispatch_float("rmsnorm_forward", x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const int64_t rows = x.shape.rows(), C = x.shape.last();
    const T* xs = x.as<T>();
    const T* gs = g.as<T>();
    T* ys = y.as<T>();
    T* rs = rstd.as<T>();
#pragma omp parallel for schedule(static) if (rows * C >= kParallelMin)
    for (int64_t r = 0; r < rows; ++r) {
      const T* xr = xs + r * C;
      const double ss = simd::dot_f64(xr, xr, C);
      // y uses the rstd that backward will read (rounded to T).
      const T rr = static_cast<T>(1.0 / std::sqrt(ss / static_cast<double>(C) + eps));
      rs[r] = rr;
      for (int64_t j = 0; j < C; ++j) ys[r * C + j] = xr[j] * rr * gs[j];
    }
  });
}

void CpuBackend::rmsnorm_backward(const Tensor& dy, const Tensor& x, const Tensor& g,
                                  const Tensor& rstd, const Tensor& dx, const Tensor& dg) {
  check_norm("rmsnorm_backward", x, "g", g, "dy", dy, "rstd", rstd);
  require_same_shape("rmsnorm_backward", "dx", dx, "x", x);
  require_same_shape("rmsnorm_backward", "dg", dg, "g", g);
  require_same_dtype("rmsnorm_backward", x, dx);
  require_same_dtype("rmsnorm_backward", x, dg);
  dispatch_float("rmsnorm_backward", x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const int64_t rows = x.shape.rows(), C = x.shape.last();
    const T* xs = x.as<T>();
    const T* gs = g.as<T>();
    const T* dys = dy.as<T>();
    const T* rs = rstd.as<T>();
    T* dxs = dx.as<T>();
    int64_t chunks = 0;
    // y_j = x_j r g_j, r = (mean(x^2) + eps)^(-1/2):
    // dx_j = r g_j dy_j - x_j r^3 / C * sum_k dy_k g_k x_k;  dg_j = sum over rows of dy_j x_j r.
    const double* partial = rows_with_partials(*this, rows, C, chunks, [&](int64_t r, double* pg) {
      const T* xr = xs + r * C;
      const T* dyr = dys + r * C;
      T* dxr = dxs + r * C;
      const double rr = rs[r];
      double dot = 0;
#pragma omp simd reduction(+ : dot)
      for (int64_t j = 0; j < C; ++j) dot += static_cast<double>(dyr[j]) * gs[j] * xr[j];
      const T a = static_cast<T>(rr);
      const T coef = static_cast<T>(rr * rr * rr * dot / static_cast<double>(C));
      for (int64_t j = 0; j < C; ++j) {
        dxr[j] += a * gs[j] * dyr[j] - coef * xr[j];
        pg[j] += static_cast<double>(dyr[j]) * xr[j] * rr;
      }
    });
    add_partials(partial, chunks, C, 0, C, dg.as<T>());
  });
}

void CpuBackend::layernorm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                   const Tensor& y, const Tensor& mean, const Tensor& rstd,
                                   double eps) {
  check_norm("layernorm_forward", x, "gamma", gamma, "y", y, "rstd", rstd);
  check_norm("layernorm_forward", x, "beta", beta, "y", y, "mean", mean);
  PHA_REQUIRE(eps >= 0, "layernorm_forward: eps must be >= 0, got {}", eps);
  dispatch_float("layernorm_forward", x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const int64_t rows = x.shape.rows(), C = x.shape.last();
    const T* xs = x.as<T>();
    const T* gs = gamma.as<T>();
    const T* bs = beta.as<T>();
    T* ys = y.as<T>();
    T* ms = mean.as<T>();
    T* rs = rstd.as<T>();
#pragma omp parallel for schedule(static) if (rows * C >= kParallelMin)
    for (int64_t r = 0; r < rows; ++r) {
      const T* xr = xs + r * C;
      double s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t j = 0; j < C; ++j) s += xr[j];
      const double m = s / static_cast<double>(C);
      // Two passes: the variance of centred values does not cancel catastrophically.
      double v = 0;
#pragma omp simd reduction(+ : v)
      for (int64_t j = 0; j < C; ++j) v += (xr[j] - m) * (xr[j] - m);
      const T mt = static_cast<T>(m);
      const T rt = static_cast<T>(1.0 / std::sqrt(v / static_cast<double>(C) + eps));
      ms[r] = mt;
      rs[r] = rt;
      for (int64_t j = 0; j < C; ++j) ys[r * C + j] = (xr[j] - mt) * rt * gs[j] + bs[j];
    }
  });
}

void CpuBackend::layernorm_backward(const Tensor& dy, const Tensor& x, const Tensor& gamma,
                                    const Tensor& mean, const Tensor& rstd, const Tensor& dx,
                                    const Tensor& dgamma, const Tensor& dbeta) {
  check_norm("layernorm_backward", x, "gamma", gamma, "dy", dy, "rstd", rstd);
  check_norm("layernorm_backward", x, "dgamma", dgamma, "dx", dx, "mean", mean);
  require_same_shape("layernorm_backward", "dbeta", dbeta, "gamma", gamma);
  require_same_dtype("layernorm_backward", x, dbeta);
  dispatch_float("layernorm_backward", x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const int64_t rows = x.shape.rows(), C = x.shape.last();
    const T* xs = x.as<T>();
    const T* gs = gamma.as<T>();
    const T* dys = dy.as<T>();
    const T* ms = mean.as<T>();
    const T* rs = rstd.as<T>();
    T* dxs = dx.as<T>();
    int64_t chunks = 0;
    // xhat = (x - mean) r, g = dy * gamma:
    // dx_j = r (g_j - mean(g) - xhat_j mean(g * xhat));  dgamma_j = sum dy_j xhat_j;  dbeta_j = sum
    // dy_j. The partials hold [dgamma | dbeta] per chunk.
    const double* partial =
        rows_with_partials(*this, rows, 2 * C, chunks, [&](int64_t r, double* pg) {
          const T* xr = xs + r * C;
          const T* dyr = dys + r * C;
          T* dxr = dxs + r * C;
          const double m = ms[r], rr = rs[r];
          double sum_g = 0, sum_gx = 0;
#pragma omp simd reduction(+ : sum_g, sum_gx)
          for (int64_t j = 0; j < C; ++j) {
            const double gj = static_cast<double>(dyr[j]) * gs[j];
            sum_g += gj;
            sum_gx += gj * (xr[j] - m) * rr;
          }
          const T mt = ms[r], rt = rs[r];
          const T mean_g = static_cast<T>(sum_g / static_cast<double>(C));
          const T mean_gx = static_cast<T>(sum_gx / static_cast<double>(C));
          for (int64_t j = 0; j < C; ++j) {
            const T xhat = (xr[j] - mt) * rt;
            dxr[j] += rt * (dyr[j] * gs[j] - mean_g - xhat * mean_gx);
            pg[j] += static_cast<double>(dyr[j]) * xhat;
            pg[C + j] += dyr[j];
          }
        });
    add_partials(partial, chunks, 2 * C, 0, C, dgamma.as<T>());
    add_partials(partial, chunks, 2 * C, C, C, dbeta.as<T>());
  });
}

}  // namespace pha
