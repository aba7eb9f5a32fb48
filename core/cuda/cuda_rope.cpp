// CudaBackend RoPE (half-split): checks, then the kernels of cuda_rope.cu.
// x, y, dy, dx [B, T, heads, d_h]; table [T_max, d_h/2, 2] of (cos, sin), T <= T_max, in any
// float dtype (f32 is the natural one under bf16 activations).
#include "core/cuda/cuda_backend.h"

namespace pha {

namespace {

void require_rope(const char* op, const char* x_name, const Tensor& x, const Tensor& table,
                  const char* y_name, const Tensor& y) {
  cuda::require_float_on_gpu(op, x_name, x);
  require_rank(op, x_name, x, 4);
  const int64_t seq = x.dim(1), d_h = x.dim(3);
  PHA_REQUIRE(d_h > 0 && d_h % 2 == 0,
              "{}: {} has shape {}: its head width d_h = {} must be even for half-split RoPE", op,
              x_name, x.shape.str(), d_h);
  cuda::require_float_on_gpu(op, "table", table);
  PHA_REQUIRE(table.rank() == 3 && table.dim(1) == d_h / 2 && table.dim(2) == 2,
              "{}: table has shape {}, expected [T_max, {}, 2] for head width {}", op,
              table.shape.str(), d_h / 2, d_h);
  PHA_REQUIRE(table.dim(0) >= seq,
              "{}: the sequence length T = {} exceeds the RoPE table's {} rows; build the table "
              "with T_max >= T",
              op, seq, table.dim(0));
  cuda::require_like(op, y_name, y, x_name, x);
}

}  // namespace

// y may alias x.
void CudaBackend::rope_forward(const Tensor& x, const Tensor& table, const Tensor& y) {
  require_rope("rope_forward", "x", x, table, "y", y);
  cuda::rope_forward(launch(), x.dtype, table.dtype, x.data, table.data, y.data, x.dim(0), x.dim(1),
                     x.dim(2), x.dim(3));
}

void CudaBackend::rope_backward(const Tensor& dy, const Tensor& table, const Tensor& dx) {
  require_rope("rope_backward", "dy", dy, table, "dx", dx);
  // dx += R^T dy would read dy after writing it if they shared memory.
  PHA_REQUIRE(dx.data != dy.data,
              "rope_backward: dx and dy share memory; the backward accumulates into dx, so it "
              "needs its own buffer");
  cuda::rope_backward(launch(), dy.dtype, table.dtype, dy.data, table.data, dx.data, dy.dim(0),
                      dy.dim(1), dy.dim(2), dy.dim(3));
}

}  // namespace pha
