// Element-wise kernels: fill, dtype conversion, add, mul (+ backward), scale, axpy.
// Memory-bound one-pass loops; bf16 is read and written as bf16 and computed in f32.
#include "core/cuda/cuda_common.cuh"

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

}  // namespace

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
