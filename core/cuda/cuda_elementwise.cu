// Element-wise kernels: fill, dtype conversion, add, mul (+ backward), scale, axpy, the channel
// FMA of the GSS skip term. Memory-bound one-pass loops; bf16 is read and written as bf16 and
// computed in f32. The channel FMA's dd is a deterministic column sum (cuda_reduce.cuh).
#include "core/cuda/cuda_reduce.cuh"

namespace pha::cuda {

namespace {

template <typename S>
struct Fill {
  S* p;
  compute_t<S> value;
  __device__ void operator()(int64_t i) const { store(p, i, value); }
};

struct FillI32 {
  int32_t* p;
  int32_t value;
  __device__ void operator()(int64_t i) const { p[i] = value; }
};

template <typename From, typename To>
struct Convert {
  const From* src;
  To* dst;
  __device__ void operator()(int64_t i) const { store(dst, i, load(src, i)); }
};

template <typename S>
struct Add {
  const S* a;
  const S* b;
  S* out;
  __device__ void operator()(int64_t i) const { store(out, i, load(a, i) + load(b, i)); }
};

template <typename S>
struct Mul {
  const S* a;
  const S* b;
  S* out;
  __device__ void operator()(int64_t i) const { store(out, i, load(a, i) * load(b, i)); }
};

// One pass for both gradients (dy is read once); a null output is skipped.
template <typename S>
struct MulBackward {
  const S* dy;
  const S* a;
  const S* b;
  S* da;
  S* db;
  __device__ void operator()(int64_t i) const {
    const compute_t<S> g = load(dy, i);
    if (da) store(da, i, load(da, i) + g * load(b, i));
    if (db) store(db, i, load(db, i) + g * load(a, i));
  }
};

template <typename S>
struct Scale {
  const S* x;
  compute_t<S> s;
  S* out;
  __device__ void operator()(int64_t i) const { store(out, i, s * load(x, i)); }
};

template <typename S>
struct Axpy {
  compute_t<S> s;
  const S* x;
  S* y;
  __device__ void operator()(int64_t i) const { store(y, i, load(y, i) + s * load(x, i)); }
};

// y = c + x d[col]: x, c, y [rows, cols], d [cols]. y may alias x or c.
template <typename S, typename P>
struct ChannelFma {
  const S* x;
  const P* d;
  const S* c;
  S* y;
  int64_t cols;
  __device__ void operator()(int64_t i) const {
    using C = compute_t<S>;
    store(y, i, load(c, i) + load(x, i) * static_cast<C>(load(d, i % cols)));
  }
};

// dx += dy d[col]; dc += dy (a null output is skipped).
template <typename S, typename P>
struct ChannelFmaBackward {
  const S* dy;
  const P* d;
  S* dx;
  S* dc;
  int64_t cols;
  __device__ void operator()(int64_t i) const {
    using C = compute_t<S>;
    const C g = load(dy, i);
    if (dx) store(dx, i, load(dx, i) + g * static_cast<C>(load(d, i % cols)));
    if (dc) store(dc, i, load(dc, i) + g);
  }
};

template <typename S>
struct ProductTerm {
  const S* a;
  const S* b;
  int64_t cols;
  __device__ double operator()(int64_t r, int64_t c) const {
    const int64_t i = r * cols + c;
    return static_cast<double>(load(a, i)) * static_cast<double>(load(b, i));
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

void channel_fma_forward(const Launch& l, DType act, DType param, const void* x, const void* d,
                         const void* c, void* y, int64_t rows, int64_t cols) {
  dispatch_act_param("channel_fma_forward", act, param, [&](auto s_tag, auto p_tag) {
    using S = decltype(s_tag);
    using P = decltype(p_tag);
    for_each(l, "channel_fma_forward", rows * cols,
             ChannelFma<S, P>{static_cast<const S*>(x), static_cast<const P*>(d),
                              static_cast<const S*>(c), static_cast<S*>(y), cols});
  });
}

void channel_fma_backward(const Launch& l, DType act, DType param, const void* dy, const void* x,
                          const void* d, void* dx, void* dd, void* dc, int64_t rows, int64_t cols,
                          double* partial) {
  dispatch_act_param("channel_fma_backward", act, param, [&](auto s_tag, auto p_tag) {
    using S = decltype(s_tag);
    using P = decltype(p_tag);
    if (dx || dc)
      for_each(l, "channel_fma_backward", rows * cols,
               ChannelFmaBackward<S, P>{static_cast<const S*>(dy), static_cast<const P*>(d),
                                        static_cast<S*>(dx), static_cast<S*>(dc), cols});
    if (dd)
      column_sums(l, "channel_fma_backward dd", plan_columns(rows, cols), partial,
                  ProductTerm<S>{static_cast<const S*>(dy), static_cast<const S*>(x), cols},
                  AddColumn<P>{static_cast<P*>(dd)});
  });
}

void fill(const Launch& l, DType dtype, void* p, int64_t n, double value) {
  if (dtype == DType::i32) {
    for_each(l, "fill", n, FillI32{static_cast<int32_t*>(p), static_cast<int32_t>(value)});
    return;
  }
  dispatch_float("fill", dtype, [&](auto tag) {
    using S = decltype(tag);
    for_each(l, "fill", n, Fill<S>{static_cast<S*>(p), static_cast<compute_t<S>>(value)});
  });
}

void convert(const Launch& l, DType from, const void* src, DType to, void* dst, int64_t n) {
  dispatch_float("copy", from, [&](auto from_tag) {
    using F = decltype(from_tag);
    dispatch_float("copy", to, [&](auto to_tag) {
      using T = decltype(to_tag);
      for_each(l, "convert", n, Convert<F, T>{static_cast<const F*>(src), static_cast<T*>(dst)});
    });
  });
}

void add(const Launch& l, DType dtype, const void* a, const void* b, void* out, int64_t n) {
  dispatch_float("add", dtype, [&](auto tag) {
    using S = decltype(tag);
    for_each(l, "add", n,
             Add<S>{static_cast<const S*>(a), static_cast<const S*>(b), static_cast<S*>(out)});
  });
}

void mul(const Launch& l, DType dtype, const void* a, const void* b, void* out, int64_t n) {
  dispatch_float("mul", dtype, [&](auto tag) {
    using S = decltype(tag);
    for_each(l, "mul", n,
             Mul<S>{static_cast<const S*>(a), static_cast<const S*>(b), static_cast<S*>(out)});
  });
}

void mul_backward(const Launch& l, DType dtype, const void* dy, const void* a, const void* b,
                  void* da, void* db, int64_t n) {
  dispatch_float("mul_backward", dtype, [&](auto tag) {
    using S = decltype(tag);
    for_each(l, "mul_backward", n,
             MulBackward<S>{static_cast<const S*>(dy), static_cast<const S*>(a),
                            static_cast<const S*>(b), static_cast<S*>(da), static_cast<S*>(db)});
  });
}

void scale(const Launch& l, DType dtype, const void* x, double s, void* out, int64_t n) {
  dispatch_float("scale", dtype, [&](auto tag) {
    using S = decltype(tag);
    for_each(
        l, "scale", n,
        Scale<S>{static_cast<const S*>(x), static_cast<compute_t<S>>(s), static_cast<S*>(out)});
  });
}

void axpy(const Launch& l, DType dtype, double s, const void* x, void* y, int64_t n) {
  dispatch_float("axpy", dtype, [&](auto tag) {
    using S = decltype(tag);
    for_each(l, "axpy", n,
             Axpy<S>{static_cast<compute_t<S>>(s), static_cast<const S*>(x), static_cast<S*>(y)});
  });
}

}  // namespace pha::cuda
