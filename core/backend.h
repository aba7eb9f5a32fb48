#pragma once
// The backend interface: memory plus every op the model needs, each a forward and a backward.
//
// Conventions (every implementation follows them; tests check them):
// - Shapes are validated on entry; a mismatch throws pha::Error naming the op and the tensors.
// - Backward ops ACCUMULATE (+=) into every gradient they write, input gradients and parameter
//   gradients alike (llm.c's rule); callers zero gradient buffers when a fresh value is wanted.
//   The exceptions are cross_entropy_backward and vocab_parallel_backward, which write dlogits (it
//   may alias logits, so the [N, V] logits are never stored twice).
// - The CPU backend computes in f32 or f64 (the dtype of the tensors); f64 serves the gradient
//   checks. Integer tensors (tokens, targets) are i32.
// - "rows": an op on the last dim treats a tensor [..., C] as [rows, C].
#include <cstddef>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace pha {

enum class ConvAlgo : uint8_t {
  fft,     // real FFTs zero-padded to >= 2T (the default)
  direct,  // the O(T^2) causal sum (test mode: bit-exact causality)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual std::string name() const = 0;

  // ---- memory ----
  virtual void* allocate(size_t bytes, const std::string& label) = 0;
  virtual void release(void* ptr) = 0;
  virtual void memset_zero(void* ptr, size_t bytes) = 0;
  virtual void copy_from_host(const Tensor& dst, const void* src) = 0;
  virtual void copy_to_host(const Tensor& src, void* dst) = 0;
  // src's values as host floats, whatever its floating dtype (bf16 logits, f64 checks).
  std::vector<float> to_host_f32(const Tensor& src);
  // dst = src (same shape and dtype, same device); converts between f32/f64/bf16 when dtypes
  // differ.
  virtual void copy(const Tensor& src, const Tensor& dst) = 0;
  virtual void fill(const Tensor& t, double value) = 0;
  virtual void synchronize() = 0;
  // Device memory held through this backend and its high-water mark; zero on the CPU backend,
  // whose memory is the process's (peak resident set).
  struct MemoryUse {
    size_t current = 0, peak = 0;
  };
  virtual MemoryUse memory_use() const { return {}; }

  // ---- matmul ----
  // c = alpha * op(a) op(b) + beta * c. a, b, c are 2-D [M, K] x [K, N] -> [M, N] (after the
  // optional transposes), or 3-D with a leading batch dim (a 2-D a or b is shared by every batch).
  virtual void matmul(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, const Tensor& c,
                      double alpha = 1.0, double beta = 0.0) = 0;
  // y = x w^T (+ beta * y): x [rows, in], w [out, in], y [rows, out].
  void linear_forward(const Tensor& x, const Tensor& w, const Tensor& y, double beta = 0.0);
  // dx = dy w + dx_beta * dx;  dw += dy^T x.  Either output may be empty (not wanted). dx_beta 0
  // overwrites dx without reading it: no zeroing pass before it on the GPU (cuBLAS writes C in its
  // epilogue); the CPU's matmul zeroes C itself, as fast as a zero() before it.
  void linear_backward(const Tensor& dy, const Tensor& x, const Tensor& w, const Tensor& dx,
                       const Tensor& dw, double dx_beta = 1.0);

  // ---- embedding ----
  // out[i, :] = table[tokens[i], :]. tokens i32 [...], table [V, d], out [..., d]. A token id of
  // -1 (not held by this vocabulary shard) gives a zero row and no gradient.
  virtual void embedding_forward(const Tensor& tokens, const Tensor& table, const Tensor& out) = 0;
  // dtable[tokens[i], :] += dout[i, :] (deterministic order).
  virtual void embedding_backward(const Tensor& tokens, const Tensor& dout,
                                  const Tensor& dtable) = 0;

  // ---- norms ----
  // y = x / sqrt(mean(x^2) + eps) * g; rstd [rows] saved for backward.
  virtual void rmsnorm_forward(const Tensor& x, const Tensor& g, const Tensor& y,
                               const Tensor& rstd, double eps) = 0;
  virtual void rmsnorm_backward(const Tensor& dy, const Tensor& x, const Tensor& g,
                                const Tensor& rstd, const Tensor& dx, const Tensor& dg) = 0;
  // y = (x - mean) * rstd * gamma + beta over the last dim; mean, rstd [rows].
  virtual void layernorm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                 const Tensor& y, const Tensor& mean, const Tensor& rstd,
                                 double eps) = 0;
  virtual void layernorm_backward(const Tensor& dy, const Tensor& x, const Tensor& gamma,
                                  const Tensor& mean, const Tensor& rstd, const Tensor& dx,
                                  const Tensor& dgamma, const Tensor& dbeta) = 0;

  // ---- activations and softmax ----
  // GELU, tanh form. y may alias x.
  virtual void gelu_forward(const Tensor& x, const Tensor& y) = 0;
  virtual void gelu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) = 0;
  // Row softmax over the last dim.
  virtual void softmax_forward(const Tensor& x, const Tensor& y) = 0;
  virtual void softmax_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) = 0;

  // ---- RoPE (half-split) ----
  // table [T_max, d_h/2, 2] holds (cos, sin) of p * theta_i (see rope_table.h). x, y [B, T, heads,
  // d_h] with T <= T_max; y may alias x.
  virtual void rope_forward(const Tensor& x, const Tensor& table, const Tensor& y) = 0;
  virtual void rope_backward(const Tensor& dy, const Tensor& table, const Tensor& dx) = 0;

  // ---- causal attention with GQA ----
  // q [B, T, n_q, d_h], k and v [B, T, n_kv, d_h], out [B, T, n_q, d_h], lse [B, n_q, T] (the
  // log-sum-exp of each score row, saved for backward). Query head j reads kv head j / (n_q/n_kv).
  // window > 0: position t sees keys t-window+1..t. Scale 1/sqrt(d_h). Memory O(T) per head.
  virtual void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                 const Tensor& out, const Tensor& lse, int64_t window) = 0;
  virtual void attention_backward(const Tensor& dout, const Tensor& q, const Tensor& k,
                                  const Tensor& v, const Tensor& out, const Tensor& lse,
                                  const Tensor& dq, const Tensor& dk, const Tensor& dv,
                                  int64_t window) = 0;
  // One block of the above at global positions (context parallelism: ring attention). Queries
  // q [B, Tq, n_q, d_h] sit at positions q_pos .. q_pos + Tq - 1, keys and values k, v
  // [B, Tk, n_kv, d_h] at k_pos .. k_pos + Tk - 1; the causal mask (and window) compares these
  // positions. merge false: out [B, Tq, n_q, d_h] and lse [B, n_q, Tq] become this block's
  // attention (a row that sees none of the keys: out 0, lse -inf). merge true: out and lse hold the
  // attention over other keys and become the attention over both (online-softmax merge).
  // The default refuses: only the CPU backend implements it.
  virtual void attention_block_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                       const Tensor& out, const Tensor& lse, int64_t window,
                                       int64_t q_pos, int64_t k_pos, bool merge);
  // dq, dk, dv += this block's share of the gradient, given the final out and lse (after every
  // merge).
  virtual void attention_block_backward(const Tensor& dout, const Tensor& q, const Tensor& k,
                                        const Tensor& v, const Tensor& out, const Tensor& lse,
                                        const Tensor& dq, const Tensor& dk, const Tensor& dv,
                                        int64_t window, int64_t q_pos, int64_t k_pos);

  // ---- fused log-softmax + cross-entropy ----
  // logits [rows, V], targets i32 [rows] (a negative target ignores the row: loss 0),
  // losses [rows] = lse - logit[target], lse [rows].
  virtual void cross_entropy_forward(const Tensor& logits, const Tensor& targets,
                                     const Tensor& losses, const Tensor& lse) = 0;
  // dlogits = (softmax(logits) - onehot(target)) * scale for each counted row, 0 for ignored rows.
  // WRITES dlogits (no accumulation); dlogits may alias logits.
  virtual void cross_entropy_backward(const Tensor& logits, const Tensor& lse,
                                      const Tensor& targets, double scale,
                                      const Tensor& dlogits) = 0;

  // ---- vocab-parallel cross-entropy (tensor parallelism over the vocabulary) ----
  // A tp rank holds columns [vocab_offset, vocab_offset + V_local) of the [rows, V] logits, as
  // logits [rows, V_local]. The full logits are never gathered: the ranks exchange two small
  // per-row tensors instead, and every rank ends with the same losses and lse as
  // cross_entropy_forward on the full logits. The caller runs, on every rank of the tp group:
  //   vocab_parallel_max(logits, row_max);                          all_reduce(row_max, MAX)
  //   vocab_parallel_sums(logits, targets, offset, row_max, stats); all_reduce(stats, SUM)
  //   vocab_parallel_loss(row_max, stats, targets, losses, lse);
  //   vocab_parallel_backward(logits, lse, targets, offset, scale, dlogits);
  // targets i32 [rows] hold GLOBAL vocabulary ids (negative = ignored row: loss 0, dlogits 0). No
  // rank sees V, so the caller checks targets < V. row_max, losses, lse [rows] and stats [2, rows]
  // have one dtype (the reductions move one dtype): the logits' on the CPU, the compute type on the
  // CUDA backend (f32 for bf16 logits, as its other row statistics).
  //
  // row_max[r] = max over the local columns of logits[r, :].
  virtual void vocab_parallel_max(const Tensor& logits, const Tensor& row_max) = 0;
  // With row_max already all-reduced: stats[0, r] = sum over local columns of
  // exp(logits[r, j] - row_max[r]); stats[1, r] = logits[r, target - vocab_offset] when this rank
  // holds the target's column, else 0 (so the SUM leaves the target's logit).
  virtual void vocab_parallel_sums(const Tensor& logits, const Tensor& targets,
                                   int64_t vocab_offset, const Tensor& row_max,
                                   const Tensor& stats) = 0;
  // With stats already all-reduced: lse = row_max + log(stats[0]), losses = lse - stats[1] (0 for
  // an ignored row). Refuses a sum of exps below 1: the column at the row maximum contributes
  // exp(0) = 1, so a smaller sum means the reductions above were skipped or mismatched.
  virtual void vocab_parallel_loss(const Tensor& row_max, const Tensor& stats,
                                   const Tensor& targets, const Tensor& losses,
                                   const Tensor& lse) = 0;
  // dlogits [rows, V_local] = (exp(logits - lse) - onehot(target - vocab_offset)) * scale for each
  // counted row, 0 for ignored rows: this rank's columns of the full cross_entropy_backward.
  // WRITES dlogits (no accumulation); dlogits may alias logits.
  virtual void vocab_parallel_backward(const Tensor& logits, const Tensor& lse,
                                       const Tensor& targets, int64_t vocab_offset, double scale,
                                       const Tensor& dlogits) = 0;

  // ---- elementwise ----
  virtual void add(const Tensor& a, const Tensor& b, const Tensor& out) = 0;  // out = a + b
  virtual void mul(const Tensor& a, const Tensor& b, const Tensor& out) = 0;  // out = a * b
  // da += dy * b; db += dy * a (either may be empty).
  virtual void mul_backward(const Tensor& dy, const Tensor& a, const Tensor& b, const Tensor& da,
                            const Tensor& db) = 0;
  virtual void scale(const Tensor& x, double s, const Tensor& out) = 0;  // out = s * x
  virtual void axpy(double s, const Tensor& x, const Tensor& y) = 0;     // y += s * x
  // y = c + x * d, d [C] broadcast over rows of x, c, y [rows, C] (GSS skip term D * zn).
  virtual void channel_fma_forward(const Tensor& x, const Tensor& d, const Tensor& c,
                                   const Tensor& y) = 0;
  // dx += dy * d; dd += sum_rows(dy * x); dc += dy. Any output may be empty.
  virtual void channel_fma_backward(const Tensor& dy, const Tensor& x, const Tensor& d,
                                    const Tensor& dx, const Tensor& dd, const Tensor& dc) = 0;

  // ---- mixer ----
  // w [n, C] from alpha [n, C] (C = 1 or d): softmax over the n branches (normalize) or w = alpha.
  virtual void mixer_weights_forward(const Tensor& alpha, const Tensor& w, bool normalize) = 0;
  // dalpha += J^T dw (core/math/mixer.h). dw_weighted (softmax only): dw holds w * dloss/dw, as
  // the branches' output projections supply it when the branch outputs are not kept.
  virtual void mixer_weights_backward(const Tensor& w, const Tensor& dw, const Tensor& dalpha,
                                      bool normalize, bool dw_weighted) = 0;
  // out += sum_i w[i, c] * branches[i][r, c] (w[i, 0] when C = 1). branches: n tensors [rows, d].
  virtual void mixer_forward(const Tensor* branches, int n, const Tensor& w, const Tensor& out) = 0;
  // dbranches[i] += w[i, c] * dout; dw[i, c] += sum over rows (and over c when C = 1).
  virtual void mixer_backward(const Tensor& dout, const Tensor* branches, int n, const Tensor& w,
                              const Tensor* dbranches, const Tensor& dw) = 0;
  // out[0] += sum of a * b over all elements (a, b alike; out: one element of the parameter type,
  // accumulated in double in an order that does not depend on the thread count). A branch's
  // <d o, o> for the softmax mixer's weights (mixer.h).
  virtual void dot_accumulate(const Tensor& a, const Tensor& b, const Tensor& out) = 0;

  // ---- reductions ----
  virtual double sum(const Tensor& x) = 0;
  virtual double sum_squares(const Tensor& x) = 0;
  // out[c] += sum over rows of x[r, c].
  virtual void sum_rows(const Tensor& x, const Tensor& out) = 0;

  // ---- GSS: the simplified DSS kernel and the causal long convolution ----
  // lambda_re, lambda_im [N]; c_re, c_im [H, N]; K [T, H] (see model.md).
  virtual void dss_kernel_forward(const Tensor& lambda_re, const Tensor& lambda_im,
                                  const Tensor& c_re, const Tensor& c_im, const Tensor& kernel) = 0;
  virtual void dss_kernel_backward(const Tensor& dkernel, const Tensor& lambda_re,
                                   const Tensor& lambda_im, const Tensor& c_re, const Tensor& c_im,
                                   const Tensor& dlambda_re, const Tensor& dlambda_im,
                                   const Tensor& dc_re, const Tensor& dc_im) = 0;
  // y[b, t, h] = sum_{s <= t} K[t - s, h] * u[b, s, h]. u, y [B, T, H], K [T, H].
  virtual void causal_conv_forward(const Tensor& u, const Tensor& kernel, const Tensor& y,
                                   ConvAlgo algo) = 0;
  // du += correlation of dy with K; dkernel += correlation of dy with u (summed over B).
  virtual void causal_conv_backward(const Tensor& dy, const Tensor& u, const Tensor& kernel,
                                    const Tensor& du, const Tensor& dkernel, ConvAlgo algo) = 0;
};

}  // namespace pha
