// RMSNorm and LayerNorm kernels: one block per row for the row statistics and dx; the gain and
// bias gradients are deterministic column sums (cuda_reduce.cuh). Row sums run in double, as in
// the CPU backend, and the element-wise math in the compute type, in the CPU's order of operations.
#include "core/cuda/cuda_reduce.cuh"

namespace pha::cuda {

namespace {

// x, y [rows, cols]; g [cols]; rstd [rows]. y may alias x (each thread reads its x before writing).
template <typename S, typename P>
__global__ void rmsnorm_forward_kernel(const S* x, const P* g, S* y, compute_t<S>* rstd,
                                       int64_t cols, double eps) {
  using C = compute_t<S>;
  __shared__ double shared[32];
  const int64_t base = static_cast<int64_t>(blockIdx.x) * cols;
  double ss = 0;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    const double v = load(x, base + j);
    ss += v * v;
  }
  ss = block_sum(ss, shared);
  const C rr = static_cast<C>(1.0 / sqrt(ss / static_cast<double>(cols) + eps));
  if (threadIdx.x == 0) rstd[blockIdx.x] = rr;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
    store(y, base + j, static_cast<C>(load(x, base + j)) * rr * static_cast<C>(load(g, j)));
}

// dx += r g dy - x r^3 / C sum_k(dy_k g_k x_k), r = rstd of the row.
template <typename S, typename P>
__global__ void rmsnorm_dx_kernel(const S* dy, const S* x, const P* g, const compute_t<S>* rstd,
                                  S* dx, int64_t cols) {
  using C = compute_t<S>;
  __shared__ double shared[32];
  const int64_t base = static_cast<int64_t>(blockIdx.x) * cols;
  double dot = 0;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
    dot += static_cast<double>(load(dy, base + j)) * static_cast<double>(load(g, j)) *
           static_cast<double>(load(x, base + j));
  dot = block_sum(dot, shared);
  const double rr = rstd[blockIdx.x];
  const C a = static_cast<C>(rr);
  const C coef = static_cast<C>(rr * rr * rr * dot / static_cast<double>(cols));
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    const C gj = load(g, j), dyj = load(dy, base + j), xj = load(x, base + j);
    store(dx, base + j, load(dx, base + j) + (a * gj * dyj - coef * xj));
  }
}

// dg[c]: dy x rstd summed over rows.
template <typename S>
struct RmsGainTerm {
  const S* dy;
  const S* x;
  const compute_t<S>* rstd;
  int64_t cols;
  __device__ double operator()(int64_t r, int64_t c) const {
    const int64_t i = r * cols + c;
    return static_cast<double>(load(dy, i)) * static_cast<double>(load(x, i)) *
           static_cast<double>(rstd[r]);
  }
};

// out[c] += s, rounded to the parameter's type.
template <typename P>
struct AddTo {
  P* out;
  int64_t offset;  // column c adds to out[c - offset] (offset: where this output starts)
  __device__ void operator()(int64_t c, double s) const {
    store(out, c - offset, load(out, c - offset) + static_cast<compute_t<P>>(s));
  }
};

template <typename S, typename P>
__global__ void layernorm_forward_kernel(const S* x, const P* gamma, const P* beta, S* y,
                                         compute_t<S>* mean, compute_t<S>* rstd, int64_t cols,
                                         double eps) {
  using C = compute_t<S>;
  __shared__ double shared[32];
  const int64_t base = static_cast<int64_t>(blockIdx.x) * cols;
  double s = 0;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) s += load(x, base + j);
  const double m = block_sum(s, shared) / static_cast<double>(cols);
  // Two passes: the variance of centred values does not cancel catastrophically.
  double v = 0;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    const double dx = static_cast<double>(load(x, base + j)) - m;
    v += dx * dx;
  }
  v = block_sum(v, shared);
  const C mt = static_cast<C>(m);
  const C rt = static_cast<C>(1.0 / sqrt(v / static_cast<double>(cols) + eps));
  if (threadIdx.x == 0) {
    mean[blockIdx.x] = mt;
    rstd[blockIdx.x] = rt;
  }
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
    store(y, base + j,
          (static_cast<C>(load(x, base + j)) - mt) * rt * static_cast<C>(load(gamma, j)) +
              static_cast<C>(load(beta, j)));
}

// xhat = (x - mean) r, g = dy gamma: dx += r (g - mean(g) - xhat mean(g xhat)).
template <typename S, typename P>
__global__ void layernorm_dx_kernel(const S* dy, const S* x, const P* gamma,
                                    const compute_t<S>* mean, const compute_t<S>* rstd, S* dx,
                                    int64_t cols) {
  using C = compute_t<S>;
  __shared__ double shared[32];
  const int64_t base = static_cast<int64_t>(blockIdx.x) * cols;
  const C mt = mean[blockIdx.x], rt = rstd[blockIdx.x];
  const double m = mt, rr = rt;
  double sum_g = 0, sum_gx = 0;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    const double gj = static_cast<double>(load(dy, base + j)) * static_cast<double>(load(gamma, j));
    sum_g += gj;
    sum_gx += gj * (static_cast<double>(load(x, base + j)) - m) * rr;
  }
  sum_g = block_sum(sum_g, shared);
  sum_gx = block_sum(sum_gx, shared);
  const C mean_g = static_cast<C>(sum_g / static_cast<double>(cols));
  const C mean_gx = static_cast<C>(sum_gx / static_cast<double>(cols));
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    const C xhat = (static_cast<C>(load(x, base + j)) - mt) * rt;
    const C g = static_cast<C>(load(dy, base + j)) * static_cast<C>(load(gamma, j));
    store(dx, base + j, load(dx, base + j) + rt * (g - mean_g - xhat * mean_gx));
  }
}

// Columns [0, cols): dgamma terms dy xhat; columns [cols, 2 cols): dbeta terms dy.
template <typename S>
struct LayerNormParamTerm {
  const S* dy;
  const S* x;
  const compute_t<S>* mean;
  const compute_t<S>* rstd;
  int64_t cols;
  __device__ double operator()(int64_t r, int64_t c) const {
    using C = compute_t<S>;
    if (c >= cols) return load(dy, r * cols + c - cols);
    const int64_t i = r * cols + c;
    const C xhat = (static_cast<C>(load(x, i)) - mean[r]) * rstd[r];
    return static_cast<double>(load(dy, i)) * static_cast<double>(xhat);
  }
};

template <typename P>
struct AddToPair {
  P* first;   // columns [0, cols)
  P* second;  // columns [cols, 2 cols)
  int64_t cols;
  __device__ void operator()(int64_t c, double s) const {
    if (c < cols)
      AddTo<P>{first, 0}(c, s);
    else
      AddTo<P>{second, cols}(c, s);
  }
};

}  // namespace

void rmsnorm_forward(const Launch& l, DType act, DType param, const void* x, const void* g, void* y,
                     void* rstd, int64_t rows, int64_t cols, double eps) {
  if (rows == 0) return;
  dispatch_act_param("rmsnorm_forward", act, param, [&](auto s_tag, auto p_tag) {
    using S = decltype(s_tag);
    using P = decltype(p_tag);
    rmsnorm_forward_kernel<<<static_cast<unsigned>(rows), row_threads(cols), 0, l.stream>>>(
        static_cast<const S*>(x), static_cast<const P*>(g), static_cast<S*>(y),
        static_cast<compute_t<S>*>(rstd), cols, eps);
    PHA_CUDA_CHECK_LAUNCH("rmsnorm_forward");
  });
}

void rmsnorm_backward(const Launch& l, DType act, DType param, const void* dy, const void* x,
                      const void* g, const void* rstd, void* dx, void* dg, int64_t rows,
                      int64_t cols, double* partial) {
  if (rows == 0) return;
  dispatch_act_param("rmsnorm_backward", act, param, [&](auto s_tag, auto p_tag) {
    using S = decltype(s_tag);
    using P = decltype(p_tag);
    const auto* r = static_cast<const compute_t<S>*>(rstd);
    rmsnorm_dx_kernel<<<static_cast<unsigned>(rows), row_threads(cols), 0, l.stream>>>(
        static_cast<const S*>(dy), static_cast<const S*>(x), static_cast<const P*>(g), r,
        static_cast<S*>(dx), cols);
    PHA_CUDA_CHECK_LAUNCH("rmsnorm_backward dx");
    column_sums(l, "rmsnorm_backward dg", plan_columns(rows, cols), partial,
                RmsGainTerm<S>{static_cast<const S*>(dy), static_cast<const S*>(x), r, cols},
                AddTo<P>{static_cast<P*>(dg), 0});
  });
}

void layernorm_forward(const Launch& l, DType act, DType param, const void* x, const void* gamma,
                       const void* beta, void* y, void* mean, void* rstd, int64_t rows,
                       int64_t cols, double eps) {
  if (rows == 0) return;
  dispatch_act_param("layernorm_forward", act, param, [&](auto s_tag, auto p_tag) {
    using S = decltype(s_tag);
    using P = decltype(p_tag);
    layernorm_forward_kernel<<<static_cast<unsigned>(rows), row_threads(cols), 0, l.stream>>>(
        static_cast<const S*>(x), static_cast<const P*>(gamma), static_cast<const P*>(beta),
        static_cast<S*>(y), static_cast<compute_t<S>*>(mean), static_cast<compute_t<S>*>(rstd),
        cols, eps);
    PHA_CUDA_CHECK_LAUNCH("layernorm_forward");
  });
}

void layernorm_backward(const Launch& l, DType act, DType param, const void* dy, const void* x,
                        const void* gamma, const void* mean, const void* rstd, void* dx,
                        void* dgamma, void* dbeta, int64_t rows, int64_t cols, double* partial) {
  if (rows == 0) return;
  dispatch_act_param("layernorm_backward", act, param, [&](auto s_tag, auto p_tag) {
    using S = decltype(s_tag);
    using P = decltype(p_tag);
    const auto* m = static_cast<const compute_t<S>*>(mean);
    const auto* r = static_cast<const compute_t<S>*>(rstd);
    layernorm_dx_kernel<<<static_cast<unsigned>(rows), row_threads(cols), 0, l.stream>>>(
        static_cast<const S*>(dy), static_cast<const S*>(x), static_cast<const P*>(gamma), m, r,
        static_cast<S*>(dx), cols);
    PHA_CUDA_CHECK_LAUNCH("layernorm_backward dx");
    column_sums(
        l, "layernorm_backward dgamma dbeta", plan_columns(rows, 2 * cols), partial,
        LayerNormParamTerm<S>{static_cast<const S*>(dy), static_cast<const S*>(x), m, r, cols},
        AddToPair<P>{static_cast<P*>(dgamma), static_cast<P*>(dbeta), cols});
  });
}

}  // namespace pha::cuda
