#pragma once
// The CUDA backend: device memory, cuBLAS matmuls and CUDA kernels, all ordered on one stream that
// the backend owns (every op is asynchronous on it; copies to the host and synchronize() wait).
// Storage dtypes are f32, f64 (gradient checks) and bf16 (computed in f32).
//
// Mixed precision: activations may be bf16 while what is reduced over rows stays wider. Saved row
// statistics (rstd, mean, lse, losses) are stored in the compute dtype (f32 for f32 and bf16
// activations, f64 for f64); a parameter and its gradient (norm gains, channel vectors, mixer
// weights, embedding table) has the activations' dtype, or f32 under bf16 activations.
// Reductions never use float atomics: partial sums over fixed row chunks (fixed by the shapes, not
// by the GPU) are added in a fixed order, so every result is bit-reproducible run to run.
//
// Layout of the sources, one op family per file as in core/cpu/:
//   cuda_<family>.cpp   the Backend members: validation, dispatch, library calls (host compiler)
//   cuda_<family>.cu    the kernels and their launchers, declared in cuda_kernels.h (nvcc)
//   launch_plan.h       launch geometry and scratch sizes of the kernels (tested without a GPU)
//   gemm_plan.h         the row-major -> column-major cuBLAS arguments (tested without a GPU)
//   cufft_plans.h       cuFFT plans cached per transform layout
// The .cu files include no fmt-based header (see cuda_check.h), so this header is for .cpp files.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/backend.h"
#include "core/cuda/cuda_kernels.h"

namespace pha {

class CufftPlans;

class CudaBackend final : public Backend {
 public:
  // Selects GPU `device_index` for this thread and creates the stream and the cuBLAS handle.
  // Prefer make_cuda_backend(), which first says why no GPU can be used.
  explicit CudaBackend(int device_index);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  Device device() const override { return Device::cuda; }
  std::string name() const override { return name_; }

  void* allocate(size_t bytes, const std::string& label) override;
  void release(void* ptr) override;
  void memset_zero(void* ptr, size_t bytes) override;
  void copy_from_host(const Tensor& dst, const void* src) override;
  void copy_to_host(const Tensor& src, void* dst) override;
  void copy(const Tensor& src, const Tensor& dst) override;
  void fill(const Tensor& t, double value) override;
  void synchronize() override;

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

  int device_index() const { return device_index_; }
  cudaStream_t stream() const { return stream_; }
  cublasHandle_t cublas() const { return cublas_; }
  cuda::Launch launch() const { return {stream_, max_blocks_}; }

  // Device scratch for ops (reduction partials, FFT buffers, the DSS Vandermonde matrix). Each
  // slot grows to its high-water mark on first use and is reused afterwards, so a training step
  // allocates nothing after the first. Ops run in stream order, so one op's slots are free again
  // for the next; slots used together by one op must differ (see cuda::slot).
  template <typename T>
  T* scratch(int slot, size_t count) {
    return static_cast<T*>(scratch_bytes(slot, count * sizeof(T)));
  }
  CufftPlans& fft_plans() { return *fft_plans_; }

  // Device memory this backend holds: allocate()'s blocks (arenas, op scratch), the cuBLAS
  // workspace and the cuFFT plans' work areas. `peak` is the most held at once since construction
  // or the last reset_peak_memory() (for a benchmark's peak of one configuration).
  MemoryUse memory_use() const override { return memory_; }
  void reset_peak_memory() { memory_.peak = memory_.current; }

  // The one CudaBackend alive in this process: the optimiser's kernels see only tensors and run
  // on its stream. Throws when none or more than one is alive.
  static CudaBackend& instance();

 private:
  void destroy() noexcept;
  void* scratch_bytes(int slot, size_t bytes);
  void count_allocation(size_t bytes);
  void count_release(void* ptr);  // a block from allocate()

  int device_index_ = 0;
  std::string name_;
  int64_t max_blocks_ = 1;  // blocks of cuda::kBlock threads resident on the whole GPU at once
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  void* cublas_workspace_ = nullptr;
  struct ScratchSlot {
    void* ptr = nullptr;
    size_t bytes = 0;
  };
  std::vector<ScratchSlot> scratch_;
  std::unique_ptr<CufftPlans> fft_plans_;
  MemoryUse memory_;
  std::unordered_map<void*, size_t> allocated_;  // allocate()'s live blocks and their bytes
};

// Checks shared by the op files; each throws pha::Error naming the op and the tensor.
namespace cuda {
// t lives on the GPU (host tensors must go through copy_from_host first).
void require_on_gpu(const char* op, const char* what, const Tensor& t);
// t is on the GPU and holds f32, f64 or bf16.
void require_float_on_gpu(const char* op, const char* what, const Tensor& t);
// t is on the GPU with the shape and dtype of `ref` (an element-wise operand).
void require_like(const char* op, const char* what, const Tensor& t, const char* ref_name,
                  const Tensor& ref);
// f32 for f32 and bf16 activations, f64 for f64: the dtype of saved row statistics.
DType compute_dtype(DType activations);
// A row statistic of `act` (rstd, mean, lse, losses): on the GPU, one value per row of `act`
// ([..., C] -> rows), stored in compute_dtype(act.dtype).
void require_row_stat(const char* op, const char* what, const Tensor& t, const char* act_name,
                      const Tensor& act);
// A parameter (or its gradient) of `act`'s op: on the GPU, of `shape`, with act's dtype or f32
// under bf16 activations.
void require_param(const char* op, const char* what, const Tensor& t, const Shape& shape,
                   const Tensor& act);
// Scratch slots; an op's simultaneously used buffers take different slots.
namespace slot {
constexpr int partials = 0;  // reduction partial sums
constexpr int result = 1;    // a reduction's final value(s)
constexpr int a = 2;         // op buffers
constexpr int b = 3;
constexpr int c = 4;
constexpr int d = 5;
constexpr int e = 6;
}  // namespace slot
}  // namespace cuda

}  // namespace pha
