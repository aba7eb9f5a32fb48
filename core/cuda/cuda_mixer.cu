// The branch mixer: weights w [n, wcols] (wcols = 1 or d) from alpha, the weighted sum of the n
// branch outputs [rows, d] added to the residual stream, and their backward. The weight
// gradients are deterministic sums over rows (cuda_reduce.cuh); the weights' own math runs in
// double, as in the CPU backend.
#include "core/cuda/cuda_reduce.cuh"
#include "core/math/mixer.h"

namespace pha::cuda {

namespace {

template <typename S>
struct Branches {
  const S* p[kMaxBranches];
};

template <typename S>
Branches<S> branch_pointers(const void* const* branches, int n) {
  Branches<S> b{};
  for (int i = 0; i < n; ++i) b.p[i] = static_cast<const S*>(branches[i]);
  return b;
}

// Column c of alpha [n, wcols]: softmax over the n branches (normalize) or a copy.
template <typename P>
struct WeightsForward {
  const P* alpha;
  P* w;
  int64_t n, wcols;
  bool normalize;
  __device__ void operator()(int64_t c) const {
    if (!normalize) {
      for (int64_t i = 0; i < n; ++i) w[i * wcols + c] = alpha[i * wcols + c];
      return;
    }
    double m = load(alpha, c), s = 0;
    for (int64_t i = 1; i < n; ++i) m = max(m, static_cast<double>(load(alpha, i * wcols + c)));
    for (int64_t i = 0; i < n; ++i) s += exp(load(alpha, i * wcols + c) - m);
    for (int64_t i = 0; i < n; ++i)
      store(w, i * wcols + c, exp(load(alpha, i * wcols + c) - m) / s);
  }
};

// dalpha += J^T dw for column c (core/math/mixer.h).
template <typename P>
struct WeightsBackward {
  const P* w;
  const P* dw;
  P* dalpha;
  int64_t n, wcols;
  bool normalize, dw_weighted;
  __device__ void operator()(int64_t c) const {
    auto wj = [&](int64_t j) { return static_cast<double>(load(w, j * wcols + c)); };
    auto gj = [&](int64_t j) { return static_cast<double>(load(dw, j * wcols + c)); };
    for (int64_t i = 0; i < n; ++i) {
      const int64_t k = i * wcols + c;
      store(dalpha, k,
            load(dalpha, k) + static_cast<compute_t<P>>(
                                  mixer_alpha_gradient(wj, gj, n, i, normalize, dw_weighted)));
    }
  }
};

// out[r, c] += sum_i w[i, c] branches[i][r, c] (w[i, 0] when wcols is 1), i in order.
template <typename S, typename P>
struct MixForward {
  Branches<S> b;
  int n;
  const P* w;
  int64_t wcols, d;
  S* out;
  __device__ void operator()(int64_t k) const {
    using C = compute_t<S>;
    const int64_t c = wcols == 1 ? 0 : k % d;
    C acc = load(out, k);
    for (int i = 0; i < n; ++i) acc += static_cast<C>(load(w, i * wcols + c)) * load(b.p[i], k);
    store(out, k, acc);
  }
};

// dbranch += w[c] dout, for one branch (w points at its row of the weights).
template <typename S, typename P>
struct MixBackward {
  const S* dout;
  const P* w;
  int64_t wcols, d;
  S* dbranch;
  __device__ void operator()(int64_t k) const {
    using C = compute_t<S>;
    store(dbranch, k,
          load(dbranch, k) + static_cast<C>(load(w, wcols == 1 ? 0 : k % d)) * load(dout, k));
  }
};

template <typename S>
struct ProductFlat {
  const S* a;
  const S* b;
  __device__ double operator()(int64_t k) const {
    return static_cast<double>(load(a, k)) * static_cast<double>(load(b, k));
  }
};

template <typename S>
struct ProductColumns {
  const S* a;
  const S* b;
  int64_t d;
  __device__ double operator()(int64_t r, int64_t c) const {
    return ProductFlat<S>{a, b}(r * d + c);
  }
};

template <typename P>
struct AddScalar {
  P* out;
  __device__ void operator()(double s) const {
    store(out, 0, load(out, 0) + static_cast<compute_t<P>>(s));
  }
};

template <typename P>
struct AddColumn {
  P* out;
  __device__ void operator()(int64_t c, double s) const {
    store(out, c, load(out, c) + static_cast<compute_t<P>>(s));
  }
};

}  // namespace

void mixer_weights_forward(const Launch& l, DType dtype, const void* alpha, void* w, int64_t n,
                           int64_t wcols, bool normalize) {
  dispatch_float("mixer_weights_forward", dtype, [&](auto tag) {
    using P = decltype(tag);
    for_each(
        l, "mixer_weights_forward", wcols,
        WeightsForward<P>{static_cast<const P*>(alpha), static_cast<P*>(w), n, wcols, normalize});
  });
}

void mixer_weights_backward(const Launch& l, DType dtype, const void* w, const void* dw,
                            void* dalpha, int64_t n, int64_t wcols, bool normalize,
                            bool dw_weighted) {
  dispatch_float("mixer_weights_backward", dtype, [&](auto tag) {
    using P = decltype(tag);
    for_each(l, "mixer_weights_backward", wcols,
             WeightsBackward<P>{static_cast<const P*>(w), static_cast<const P*>(dw),
                                static_cast<P*>(dalpha), n, wcols, normalize, dw_weighted});
  });
}

void mixer_forward(const Launch& l, DType act, DType param, const void* const* branches, int n,
                   const void* w, int64_t wcols, void* out, int64_t rows, int64_t d) {
  dispatch_act_param("mixer_forward", act, param, [&](auto s_tag, auto p_tag) {
    using S = decltype(s_tag);
    using P = decltype(p_tag);
    for_each(l, "mixer_forward", rows * d,
             MixForward<S, P>{branch_pointers<S>(branches, n), n, static_cast<const P*>(w), wcols,
                              d, static_cast<S*>(out)});
  });
}

void mixer_backward(const Launch& l, DType act, DType param, const void* dout,
                    const void* const* branches, int n, const void* w, int64_t wcols,
                    void* const* dbranches, void* dw, int64_t rows, int64_t d, double* partial) {
  dispatch_act_param("mixer_backward", act, param, [&](auto s_tag, auto p_tag) {
    using S = decltype(s_tag);
    using P = decltype(p_tag);
    const S* g = static_cast<const S*>(dout);
    for (int i = 0; i < n; ++i) {
      const P* wi = static_cast<const P*>(w) + i * wcols;
      if (dbranches && dbranches[i])
        for_each(l, "mixer_backward dbranch", rows * d,
                 MixBackward<S, P>{g, wi, wcols, d, static_cast<S*>(dbranches[i])});
      if (!dw) continue;
      const S* b = static_cast<const S*>(branches[i]);
      P* dwi = static_cast<P*>(dw) + i * wcols;
      if (wcols == 1)
        full_sum(l, "mixer_backward dw", plan_sum(rows * d), partial, ProductFlat<S>{g, b},
                 AddScalar<P>{dwi});
      else
        column_sums(l, "mixer_backward dw", plan_columns(rows, d), partial,
                    ProductColumns<S>{g, b, d}, AddColumn<P>{dwi});
    }
  });
}

void dot_accumulate(const Launch& l, DType act, DType param, const void* a, const void* b,
                    int64_t count, void* out, double* partial) {
  dispatch_act_param("dot_accumulate", act, param, [&](auto s_tag, auto p_tag) {
    using S = decltype(s_tag);
    using P = decltype(p_tag);
    full_sum(l, "dot_accumulate", plan_sum(count), partial,
             ProductFlat<S>{static_cast<const S*>(a), static_cast<const S*>(b)},
             AddScalar<P>{static_cast<P*>(out)});
  });
}

}  // namespace pha::cuda
