#pragma once
// ProfilingBackend: a Backend decorator that forwards every call to another backend unchanged and
// times it, per op kind (the op's name), with a steady clock. It also counts the op's useful
// floating-point work where it is known (matmul, attention) and the bytes of every tensor argument
// (one pass over each: a lower bound of the memory traffic), so a table can show GFLOP/s or GB/s.
// On an asynchronous backend (CUDA) pass synchronize_each_op, so each op's time is its own.
#include <cstdint>
#include <map>
#include <string>

#include "core/backend.h"

namespace pha {

class ProfilingBackend final : public Backend {
 public:
  struct OpStats {
    int64_t calls = 0;
    double seconds = 0;
    double flops = 0;  // 0 where not counted
    double bytes = 0;  // sum of the tensor arguments' sizes
  };

  explicit ProfilingBackend(Backend& inner, bool synchronize_each_op = false)
      : inner_(inner), sync_(synchronize_each_op) {}

  // Per op name (e.g. "matmul", "attention_backward"), since construction or the last reset().
  const std::map<std::string, OpStats>& stats() const { return stats_; }
  void reset() { stats_.clear(); }

  Device device() const override { return inner_.device(); }
  std::string name() const override { return inner_.name(); }

  void* allocate(size_t bytes, const std::string& label) override;
  void release(void* ptr) override;
  void memset_zero(void* ptr, size_t bytes) override;
  void copy_from_host(const Tensor& dst, const void* src) override;
  void copy_to_host(const Tensor& src, void* dst) override;
  void copy(const Tensor& src, const Tensor& dst) override;
  void fill(const Tensor& t, double value) override;
  void synchronize() override { inner_.synchronize(); }
  MemoryUse memory_use() const override { return inner_.memory_use(); }

  void matmul(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, const Tensor& c,
              double alpha, double beta) override;

  void embedding_forward(const Tensor& tokens, const Tensor& table, const Tensor& out) override;
  void embedding_backward(const Tensor& tokens, const Tensor& dout, const Tensor& dtable) override;

  void rmsnorm_forward(const Tensor& x, const Tensor& g, const Tensor& y, const Tensor& rstd,
                       double eps) override;
  void rmsnorm_backward(const Tensor& dy, const Tensor& x, const Tensor& g, const Tensor& rstd,
                        const Tensor& dx, const Tensor& dg) override;
  void layernorm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& y,
                         const Tensor& mean, const Tensor& rstd, double eps) override;
  void layernorm_backward(const Tensor& dy, const Tensor& x, const Tensor& gamma,
                          const Tensor& mean, const Tensor& rstd, const Tensor& dx,
                          const Tensor& dgamma, const Tensor& dbeta) override;

  void gelu_forward(const Tensor& x, const Tensor& y) override;
  void gelu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) override;
  void softmax_forward(const Tensor& x, const Tensor& y) override;
  void softmax_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) override;

  void rope_forward(const Tensor& x, const Tensor& table, const Tensor& y) override;
  void rope_backward(const Tensor& dy, const Tensor& table, const Tensor& dx) override;

  void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                         const Tensor& lse, int64_t window) override;
  void attention_backward(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                          const Tensor& out, const Tensor& lse, const Tensor& dq, const Tensor& dk,
                          const Tensor& dv, int64_t window) override;
  void attention_block_forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                               const Tensor& lse, int64_t window, int64_t q_pos, int64_t k_pos,
                               bool merge) override;
  void attention_block_backward(const Tensor& dout, const Tensor& q, const Tensor& k,
                                const Tensor& v, const Tensor& out, const Tensor& lse,
                                const Tensor& dq, const Tensor& dk, const Tensor& dv,
                                int64_t window, int64_t q_pos, int64_t k_pos) override;

  void cross_entropy_forward(const Tensor& logits, const Tensor& targets, const Tensor& losses,
                             const Tensor& lse) override;
  void cross_entropy_backward(const Tensor& logits, const Tensor& lse, const Tensor& targets,
                              double scale, const Tensor& dlogits) override;

  void vocab_parallel_max(const Tensor& logits, const Tensor& row_max) override;
  void vocab_parallel_sums(const Tensor& logits, const Tensor& targets, int64_t vocab_offset,
                           const Tensor& row_max, const Tensor& stats) override;
  void vocab_parallel_loss(const Tensor& row_max, const Tensor& stats, const Tensor& targets,
                           const Tensor& losses, const Tensor& lse) override;
  void vocab_parallel_backward(const Tensor& logits, const Tensor& lse, const Tensor& targets,
                               int64_t vocab_offset, double scale, const Tensor& dlogits) override;

  void add(const Tensor& a, const Tensor& b, const Tensor& out) override;
  void mul(const Tensor& a, const Tensor& b, const Tensor& out) override;
  void mul_backward(const Tensor& dy, const Tensor& a, const Tensor& b, const Tensor& da,
                    const Tensor& db) override;
  void scale(const Tensor& x, double s, const Tensor& out) override;
  void axpy(double s, const Tensor& x, const Tensor& y) override;
  void channel_fma_forward(const Tensor& x, const Tensor& d, const Tensor& c,
                           const Tensor& y) override;
  void channel_fma_backward(const Tensor& dy, const Tensor& x, const Tensor& d, const Tensor& dx,
                            const Tensor& dd, const Tensor& dc) override;

  void mixer_weights_forward(const Tensor& alpha, const Tensor& w, bool normalize) override;
  void mixer_weights_backward(const Tensor& w, const Tensor& dw, const Tensor& dalpha,
                              bool normalize, bool dw_weighted) override;
  void mixer_forward(const Tensor* branches, int n, const Tensor& w, const Tensor& out) override;
  void mixer_backward(const Tensor& dout, const Tensor* branches, int n, const Tensor& w,
                      const Tensor* dbranches, const Tensor& dw) override;
  void dot_accumulate(const Tensor& a, const Tensor& b, const Tensor& out) override;

  double sum(const Tensor& x) override;
  double sum_squares(const Tensor& x) override;
  void sum_rows(const Tensor& x, const Tensor& out) override;

  void dss_kernel_forward(const Tensor& lambda_re, const Tensor& lambda_im, const Tensor& c_re,
                          const Tensor& c_im, const Tensor& kernel) override;
  void dss_kernel_backward(const Tensor& dkernel, const Tensor& lambda_re, const Tensor& lambda_im,
                           const Tensor& c_re, const Tensor& c_im, const Tensor& dlambda_re,
                           const Tensor& dlambda_im, const Tensor& dc_re,
                           const Tensor& dc_im) override;
  void causal_conv_forward(const Tensor& u, const Tensor& kernel, const Tensor& y,
                           ConvAlgo algo) override;
  void causal_conv_backward(const Tensor& dy, const Tensor& u, const Tensor& kernel,
                            const Tensor& du, const Tensor& dkernel, ConvAlgo algo) override;

 private:
  // Runs fn(), adds its time and the given work to stats_[op], returns fn()'s result.
  template <typename Fn>
  auto timed(const char* op, double flops, double bytes, Fn&& fn);

  Backend& inner_;
  bool sync_;
  std::map<std::string, OpStats> stats_;
};

// FLOPs of the useful causal score pairs of attention (the backward recomputes the scores: 5
// matmuls against the forward's 2). q [B, T, n_q, d_h].
double attention_flops(const Tensor& q, int64_t window, bool backward);

// A Markdown table of the stats, one row per op kind, slowest first: calls per step, ms per
// step, % of the measured step time, and GFLOP/s where FLOPs are counted, else GB/s. A last row
// "outside ops" holds the step time no op accounts for (the model's own host code).
std::string profile_table(const std::map<std::string, ProfilingBackend::OpStats>& stats,
                          int64_t steps, double seconds_per_step);

}  // namespace pha
