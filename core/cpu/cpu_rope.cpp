// RoPE, half-split: x, y [B, T, heads, d_h], table [T_max, d_h/2, 2] of (cos, sin) (rope_table.h).
#include "core/cpu/cpu_backend.h"
#include "core/math/rope.h"

namespace pha {

namespace {

// Below this many elements an OpenMP team costs more than it saves.
constexpr int64_t kParallelMin = int64_t{1} << 15;

// Checks x (or dy) against the table and the output; every tensor shares one dtype.
void check_rope(const char* op, const char* x_name, const Tensor& x, const Tensor& table,
                const char* y_name, const Tensor& y) {
  require_rank(op, x_name, x, 4);
  const int64_t seq = x.dim(1), d_h = x.dim(3);
  PHA_REQUIRE(d_h > 0 && d_h % 2 == 0,
              "{}: {} has shape {}: its head width d_h = {} must be even for half-split RoPE", op,
              x_name, x.shape.str(), d_h);
  PHA_REQUIRE(table.rank() == 3 && table.dim(1) == d_h / 2 && table.dim(2) == 2,
              "{}: table has shape {}, expected [T_max, {}, 2] for head width {}", op,
              table.shape.str(), d_h / 2, d_h);
  PHA_REQUIRE(table.dim(0) >= seq,
              "{}: the sequence length T = {} exceeds the RoPE table's {} rows; build the table "
              "with T_max >= T",
              op, seq, table.dim(0));
  require_same_shape(op, y_name, y, x_name, x);
  require_same_dtype(op, x, table);
  require_same_dtype(op, x, y);
}

// Calls fn(row, table_row, n_heads, half) for every (b, t) row of x, in parallel.
template <typename T, typename Fn>
void for_each_position(const Tensor& x, const T* table, Fn&& fn) {
  const int64_t batch = x.dim(0), seq = x.dim(1), heads = x.dim(2), half = x.dim(3) / 2;
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelMin)
  for (int64_t bt = 0; bt < batch * seq; ++bt) {
    const int64_t t = bt % seq;
    fn(bt * heads * 2 * half, table + t * half * 2, heads, half);
  }
}

}  // namespace

void CpuBackend::rope_forward(const Tensor& x, const Tensor& table, const Tensor& y) {
  check_rope("rope_forward", "x", x, table, "y", y);
  dispatch_float("rope_forward", x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.as<T>();
    T* out = y.as<T>();
    for_each_position<T>(
        x, table.as<T>(), [&](int64_t at, const T* cs, int64_t heads, int64_t half) {
          for (int64_t h = 0; h < heads; ++h) {
            const T* xa = in + at + h * 2 * half;
            T* ya = out + at + h * 2 * half;
            for (int64_t i = 0; i < half; ++i)
              rope_rotate(xa[i], xa[i + half], cs[2 * i], cs[2 * i + 1], ya[i], ya[i + half]);
          }
        });
  });
}

void CpuBackend::rope_backward(const Tensor& dy, const Tensor& table, const Tensor& dx) {
  check_rope("rope_backward", "dy", dy, table, "dx", dx);
  // dx += R^T dy would read dy after writing it if they shared memory.
  PHA_REQUIRE(dx.data != dy.data,
              "rope_backward: dx and dy share memory; the backward accumulates into dx, so it "
              "needs its own buffer");
  dispatch_float("rope_backward", dy.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* in = dy.as<T>();
    T* out = dx.as<T>();
    for_each_position<T>(dy, table.as<T>(),
                         [&](int64_t at, const T* cs, int64_t heads, int64_t half) {
                           for (int64_t h = 0; h < heads; ++h) {
                             const T* ga = in + at + h * 2 * half;
                             T* da = out + at + h * 2 * half;
                             for (int64_t i = 0; i < half; ++i)
                               rope_rotate_backward(ga[i], ga[i + half], cs[2 * i], cs[2 * i + 1],
                                                    da[i], da[i + half]);
                           }
                         });
  });
}

}  // namespace pha
