// CudaBackend causal GQA attention: checks, then the flash kernels of cuda_attention_fwd.cu and
// cuda_attention_bwd.cu. q, out, dout, dq [B, T, n_q, d_h]; k, v, dk, dv [B, T, n_kv, d_h], all
// of one dtype; lse [B, n_q, T] in the compute type. Memory: O(T) (lse and the backward's
// per-row D), never the [T, T] scores.
#include "core/cuda/cuda_backend.h"
#include "core/cuda/launch_plan.h"

namespace pha {

namespace {

cuda::AttentionShape require_attention(const char* op, const Tensor& q, const Tensor& k,
                                       const Tensor& v, const Tensor& out, const Tensor& lse,
                                       int64_t window) {
  cuda::require_float_on_gpu(op, "q", q);
  require_rank(op, "q", q, 4);
  require_rank(op, "k", k, 4);
  cuda::require_float_on_gpu(op, "k", k);
  PHA_REQUIRE(k.dtype == q.dtype, "{}: k is {} but q is {}; q, k and v share one dtype", op,
              k.describe(), q.describe());
  cuda::require_like(op, "v", v, "k", k);
  const int64_t batch = q.dim(0), seq = q.dim(1), n_q = q.dim(2), n_kv = k.dim(2), d_h = q.dim(3);
  PHA_REQUIRE(k.dim(0) == batch && k.dim(1) == seq && k.dim(3) == d_h,
              "{}: q has shape {} and k {}; they must agree in B, T and d_h (q [B, T, n_q, d_h], "
              "k and v [B, T, n_kv, d_h])",
              op, q.shape.str(), k.shape.str());
  PHA_REQUIRE(
      n_kv > 0 && n_q % n_kv == 0,
      "{}: n_q = {} query heads is not a multiple of n_kv = {} key/value heads (q {}, k {})", op,
      n_q, n_kv, q.shape.str(), k.shape.str());
  PHA_REQUIRE(d_h >= 1 && d_h <= cuda::kAttnMaxHead,
              "{}: the head width d_h = {} is outside the CUDA kernel's 1..{}", op, d_h,
              cuda::kAttnMaxHead);
  PHA_REQUIRE(window >= 0, "{}: window must be >= 0 (0 = full causal), got {}", op, window);
  cuda::require_like(op, "out", out, "q", q);
  cuda::require_on_gpu(op, "lse", lse);
  require_shape(op, "lse", lse, Shape{batch, n_q, seq});
  PHA_REQUIRE(lse.dtype == cuda::compute_dtype(q.dtype),
              "{}: lse is {} but must be {} (the compute type of {} attention)", op, lse.describe(),
              dtype_name(cuda::compute_dtype(q.dtype)), dtype_name(q.dtype));
  return {batch, seq, n_q, n_kv, d_h, window};
}

}  // namespace

void CudaBackend::attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& out, const Tensor& lse, int64_t window) {
  const cuda::AttentionShape s = require_attention("attention_forward", q, k, v, out, lse, window);
  cuda::attention_forward(launch(), q.dtype, s, q.data, k.data, v.data, out.data, lse.data);
}

void CudaBackend::attention_backward(const Tensor& dout, const Tensor& q, const Tensor& k,
                                     const Tensor& v, const Tensor& out, const Tensor& lse,
                                     const Tensor& dq, const Tensor& dk, const Tensor& dv,
                                     int64_t window) {
  const char* op = "attention_backward";
  const cuda::AttentionShape s = require_attention(op, q, k, v, out, lse, window);
  cuda::require_like(op, "dout", dout, "q", q);
  cuda::require_like(op, "dq", dq, "q", q);
  cuda::require_like(op, "dk", dk, "k", k);
  cuda::require_like(op, "dv", dv, "v", v);
  void* delta = scratch_bytes(cuda::slot::a, lse.bytes());  // D [B, n_q, T], lse's type
  cuda::attention_backward(launch(), q.dtype, s, dout.data, q.data, k.data, v.data, out.data,
                           lse.data, dq.data, dk.data, dv.data, delta);
}

}  // namespace pha
