// The ops that have no CUDA kernel yet: each refuses with the same message, so a run that needs
// one stops at once and says what to do. Replace them one by one as kernels land (the declaration
// stays in cuda_backend.h; the definition moves to its family's cuda_<family>.cpp).
#include "core/cuda/cuda_backend.h"

namespace pha {

namespace {
[[noreturn]] void pending(const char* op) {
  fail("{} has no CUDA kernel yet in this build: run with --device cpu", op);
}
}  // namespace

void CudaBackend::embedding_forward(const Tensor& tokens, const Tensor& table, const Tensor& out) {
  pending("embedding_forward");
}
void CudaBackend::embedding_backward(const Tensor& tokens, const Tensor& dout,
                                     const Tensor& dtable) {
  pending("embedding_backward");
}
void CudaBackend::rmsnorm_forward(const Tensor& x, const Tensor& g, const Tensor& y,
                                  const Tensor& rstd, double eps) {
  pending("rmsnorm_forward");
}
void CudaBackend::rmsnorm_backward(const Tensor& dy, const Tensor& x, const Tensor& g,
                                   const Tensor& rstd, const Tensor& dx, const Tensor& dg) {
  pending("rmsnorm_backward");
}
void CudaBackend::layernorm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                    const Tensor& y, const Tensor& mean, const Tensor& rstd,
                                    double eps) {
  pending("layernorm_forward");
}
void CudaBackend::layernorm_backward(const Tensor& dy, const Tensor& x, const Tensor& gamma,
                                     const Tensor& mean, const Tensor& rstd, const Tensor& dx,
                                     const Tensor& dgamma, const Tensor& dbeta) {
  pending("layernorm_backward");
}
void CudaBackend::softmax_forward(const Tensor& x, const Tensor& y) {
  pending("softmax_forward");
}
void CudaBackend::softmax_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) {
  pending("softmax_backward");
}
void CudaBackend::rope_forward(const Tensor& x, const Tensor& table, const Tensor& y) {
  pending("rope_forward");
}
void CudaBackend::rope_backward(const Tensor& dy, const Tensor& table, const Tensor& dx) {
  pending("rope_backward");
}
void CudaBackend::attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& out, const Tensor& lse, int64_t window) {
  pending("attention_forward");
}
void CudaBackend::attention_backward(const Tensor& dout, const Tensor& q, const Tensor& k,
                                     const Tensor& v, const Tensor& out, const Tensor& lse,
                                     const Tensor& dq, const Tensor& dk, const Tensor& dv,
                                     int64_t window) {
  pending("attention_backward");
}
void CudaBackend::cross_entropy_forward(const Tensor& logits, const Tensor& targets,
                                        const Tensor& losses, const Tensor& lse) {
  pending("cross_entropy_forward");
}
void CudaBackend::cross_entropy_backward(const Tensor& logits, const Tensor& lse,
                                         const Tensor& targets, double scale,
                                         const Tensor& dlogits) {
  pending("cross_entropy_backward");
}
void CudaBackend::channel_fma_forward(const Tensor& x, const Tensor& d, const Tensor& c,
                                      const Tensor& y) {
  pending("channel_fma_forward");
}
void CudaBackend::channel_fma_backward(const Tensor& dy, const Tensor& x, const Tensor& d,
                                       const Tensor& dx, const Tensor& dd, const Tensor& dc) {
  pending("channel_fma_backward");
}
void CudaBackend::mixer_weights_forward(const Tensor& alpha, const Tensor& w, bool normalize) {
  pending("mixer_weights_forward");
}
void CudaBackend::mixer_weights_backward(const Tensor& w, const Tensor& dw, const Tensor& dalpha,
                                         bool normalize) {
  pending("mixer_weights_backward");
}
void CudaBackend::mixer_forward(const Tensor* branches, int n, const Tensor& w, const Tensor& out) {
  pending("mixer_forward");
}
void CudaBackend::mixer_backward(const Tensor& dout, const Tensor* branches, int n, const Tensor& w,
                                 const Tensor* dbranches, const Tensor& dw) {
  pending("mixer_backward");
}
double CudaBackend::sum(const Tensor& x) {
  pending("sum");
}
double CudaBackend::sum_squares(const Tensor& x) {
  pending("sum_squares");
}
void CudaBackend::sum_rows(const Tensor& x, const Tensor& out) {
  pending("sum_rows");
}
void CudaBackend::dss_kernel_forward(const Tensor& lambda_re, const Tensor& lambda_im,
                                     const Tensor& c_re, const Tensor& c_im, const Tensor& kernel) {
  pending("dss_kernel_forward");
}
void CudaBackend::dss_kernel_backward(const Tensor& dkernel, const Tensor& lambda_re,
                                      const Tensor& lambda_im, const Tensor& c_re,
                                      const Tensor& c_im, const Tensor& dlambda_re,
                                      const Tensor& dlambda_im, const Tensor& dc_re,
                                      const Tensor& dc_im) {
  pending("dss_kernel_backward");
}
void CudaBackend::causal_conv_forward(const Tensor& u, const Tensor& kernel, const Tensor& y,
                                      ConvAlgo algo) {
  pending("causal_conv_forward");
}
void CudaBackend::causal_conv_backward(const Tensor& dy, const Tensor& u, const Tensor& kernel,
                                       const Tensor& du, const Tensor& dkernel, ConvAlgo algo) {
  pending("causal_conv_backward");
}

}  // namespace pha
