// Reductions over whole tensors and over rows, the non-finite check and the fused AdamW update.
// Sums run in double over the fixed partitions of launch_plan.h (cuda_reduce.cuh): the same
// result on every run and every GPU, without float atomics.
#include "core/cuda/cuda_reduce.cuh"

namespace pha::cuda {

namespace {

template <typename S>
struct ValueTerm {
  const S* x;
  bool squares;
  __device__ double operator()(int64_t i) const {
    const double v = load(x, i);
    return squares ? v * v : v;
  }
};

struct StoreResult {
  double* result;
  __device__ void operator()(double s) const { *result = s; }
};

template <typename S>
struct ColumnTerm {
  const S* x;
  int64_t cols;
  __device__ double operator()(int64_t r, int64_t c) const { return load(x, r * cols + c); }
};

template <typename P>
struct AddColumn {
  P* out;
  __device__ void operator()(int64_t c, double s) const {
    store(out, c, load(out, c) + static_cast<compute_t<P>>(s));
  }
};

// Several threads may store 1: the same value, so the outcome does not depend on their order.
template <typename S>
struct FlagNonfinite {
  const S* x;
  int32_t* flag;
  __device__ void operator()(int64_t i) const {
    if (!isfinite(load(x, i))) atomicExch(flag, 1);
  }
};

template <typename T>
struct AdamW {
  T* param;
  const T* grad;
  T* exp_avg;
  T* exp_avg_sq;
  int64_t begin;
  AdamWScalars<T> s;
  __device__ void operator()(int64_t k) const {
    const int64_t i = begin + k;
    adamw_update(param[i], grad[i], exp_avg[i], exp_avg_sq[i], s);
  }
};

}  // namespace

void sum(const Launch& l, DType dtype, const void* x, int64_t n, bool squares, double* partial,
         double* result) {
  dispatch_float("sum", dtype, [&](auto tag) {
    using S = decltype(tag);
    full_sum(l, squares ? "sum_squares" : "sum", plan_sum(n), partial,
             ValueTerm<S>{static_cast<const S*>(x), squares}, StoreResult{result});
  });
}

void sum_rows(const Launch& l, DType act, DType param, const void* x, void* out, int64_t rows,
              int64_t cols, double* partial) {
  dispatch_act_param("sum_rows", act, param, [&](auto s_tag, auto p_tag) {
    using S = decltype(s_tag);
    using P = decltype(p_tag);
    column_sums(l, "sum_rows", plan_columns(rows, cols), partial,
                ColumnTerm<S>{static_cast<const S*>(x), cols}, AddColumn<P>{static_cast<P*>(out)});
  });
}

void flag_nonfinite(const Launch& l, DType dtype, const void* x, int64_t n, int32_t* flag) {
  dispatch_float("finiteness check", dtype, [&](auto tag) {
    using S = decltype(tag);
    for_each(l, "finiteness check", n, FlagNonfinite<S>{static_cast<const S*>(x), flag});
  });
}

void adamw(const Launch& l, DType dtype, void* param, const void* grad, void* exp_avg,
           void* exp_avg_sq, int64_t begin, int64_t end, const AdamWScalars<double>& scalars) {
  const auto run = [&](auto tag) {
    using T = decltype(tag);
    const AdamWScalars<T> s{static_cast<T>(scalars.lr),
                            static_cast<T>(scalars.beta1),
                            static_cast<T>(scalars.beta2),
                            static_cast<T>(scalars.eps),
                            static_cast<T>(scalars.weight_decay),
                            static_cast<T>(scalars.bias_correction1),
                            static_cast<T>(scalars.bias_correction2)};
    for_each(l, "adamw", end - begin,
             AdamW<T>{static_cast<T*>(param), static_cast<const T*>(grad), static_cast<T*>(exp_avg),
                      static_cast<T*>(exp_avg_sq), begin, s});
  };
  if (dtype == DType::f32)
    run(float{});
  else if (dtype == DType::f64)
    run(double{});
  else
    refuse_dtype("adamw", dtype);
}

}  // namespace pha::cuda
