#pragma once
// The CPU backend: OpenBLAS matmuls, FFTW convolutions, OpenMP loops. Computes in f32 or f64
// (the tensors' dtype). Each op family lives in its own cpu_<family>.cpp.
#include <memory>
#include <vector>

#include "core/backend.h"

namespace pha {

class FftPlanCache;

class CpuBackend final : public Backend {
 public:
  CpuBackend();
  ~CpuBackend() override;

  Device device() const override { return Device::cpu; }
  std::string name() const override { return "cpu"; }

  void* allocate(size_t bytes, const std::string& label) override;
  void release(void* ptr) override;
  void memset_zero(void* ptr, size_t bytes) override;
  void copy_from_host(const Tensor& dst, const void* src) override;
  void copy_to_host(const Tensor& src, void* dst) override;
  void copy(const Tensor& src, const Tensor& dst) override;
  void fill(const Tensor& t, double value) override;
  void synchronize() override {}

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

  // Scratch memory for ops (FFT buffers, score rows). Each slot grows to its high-water mark on
  // first use and is reused afterwards, so a training step allocates nothing after the first.
  template <typename T>
  T* scratch(int slot, size_t count) {
    return static_cast<T*>(scratch_bytes(slot, count * sizeof(T)));
  }
  FftPlanCache& fft_plans() { return *fft_plans_; }

 private:
  void* scratch_bytes(int slot, size_t bytes);
  struct ScratchSlot {
    void* ptr = nullptr;
    size_t bytes = 0;
  };
  std::vector<ScratchSlot> scratch_;
  std::unique_ptr<FftPlanCache> fft_plans_;
};

// Runs fn(T{}) with T = float or double by the tensor dtype; refuses any other dtype.
template <typename Fn>
void dispatch_float(const char* op, DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::f32:
      fn(float{});
      return;
    case DType::f64:
      fn(double{});
      return;
    default:
      fail("{}: the CPU backend computes in f32 or f64, got {}", op, dtype_name(dtype));
  }
}

}  // namespace pha
