// RoPE, half-split (core/math/rope.h): one thread per rotated pair (x_i, x_{i + d_h/2}).
// x, y [batch, seq, heads, d_h]; table [T_max, d_h/2, 2] of (cos, sin), any float dtype (an f32
// table keeps bf16 activations' angles exact to f32).
#include "core/cuda/cuda_common.cuh"
#include "core/math/rope.h"

namespace pha::cuda {

namespace {

struct RopeIndex {
  int64_t seq, heads, half;
  // Pair p of the [batch, seq, heads, half] pairs: the offset of its first element in x and of
  // its (cos, sin) in the table.
  __device__ void locate(int64_t p, int64_t& at, int64_t& table_at) const {
    const int64_t i = p % half, row = p / half;  // row: (b, t, head)
    const int64_t t = (row / heads) % seq;
    at = row * 2 * half + i;
    table_at = (t * half + i) * 2;
  }
};

// y may alias x: both elements of a pair are read before either is written.
template <typename S, typename Tab>
struct RopeForward {
  const S* x;
  const Tab* table;
  S* y;
  RopeIndex ix;
  __device__ void operator()(int64_t p) const {
    using C = compute_t<S>;
    int64_t at, tat;
    ix.locate(p, at, tat);
    C a, b;
    rope_rotate<C>(load(x, at), load(x, at + ix.half), static_cast<C>(load(table, tat)),
                   static_cast<C>(load(table, tat + 1)), a, b);
    store(y, at, a);
    store(y, at + ix.half, b);
  }
};

// dx += R^T dy.
template <typename S, typename Tab>
struct RopeBackward {
  const S* dy;
  const Tab* table;
  S* dx;
  RopeIndex ix;
  __device__ void operator()(int64_t p) const {
    using C = compute_t<S>;
    int64_t at, tat;
    ix.locate(p, at, tat);
    C da = load(dx, at), db = load(dx, at + ix.half);
    rope_rotate_backward<C>(load(dy, at), load(dy, at + ix.half), static_cast<C>(load(table, tat)),
                            static_cast<C>(load(table, tat + 1)), da, db);
    store(dx, at, da);
    store(dx, at + ix.half, db);
  }
};

template <template <typename, typename> class Op>
void run(const Launch& l, const char* name, DType dtype, DType table_dtype, const void* in,
         const void* table, void* out, int64_t batch, int64_t seq, int64_t heads, int64_t d_h) {
  const RopeIndex ix{seq, heads, d_h / 2};
  dispatch_float(name, dtype, [&](auto s_tag) {
    using S = decltype(s_tag);
    dispatch_float(name, table_dtype, [&](auto t_tag) {
      using Tab = decltype(t_tag);
      for_each(l, name, batch * seq * heads * ix.half,
               Op<S, Tab>{static_cast<const S*>(in), static_cast<const Tab*>(table),
                          static_cast<S*>(out), ix});
    });
  });
}

}  // namespace

void rope_forward(const Launch& l, DType dtype, DType table_dtype, const void* x, const void* table,
                  void* y, int64_t batch, int64_t seq, int64_t heads, int64_t d_h) {
  run<RopeForward>(l, "rope_forward", dtype, table_dtype, x, table, y, batch, seq, heads, d_h);
}

void rope_backward(const Launch& l, DType dtype, DType table_dtype, const void* dy,
                   const void* table, void* dx, int64_t batch, int64_t seq, int64_t heads,
                   int64_t d_h) {
  run<RopeBackward>(l, "rope_backward", dtype, table_dtype, dy, table, dx, batch, seq, heads, d_h);
}

}  // namespace pha::cuda
