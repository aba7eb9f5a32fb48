// The vocab-parallel cross-entropy ops have no CUDA kernel yet: each refuses with the message of
// cuda_pending_ops.cpp, so a tensor-parallel run on the GPU stops at once and says what to do.
#include "core/cuda/cuda_backend.h"

namespace pha {

namespace {
[[noreturn]] void pending(const char* op) {
  fail("{} has no CUDA kernel yet in this build: run with --device cpu", op);
}
}  // namespace

void CudaBackend::vocab_parallel_max(const Tensor& logits, const Tensor& row_max) {
  pending("vocab_parallel_max");
}
void CudaBackend::vocab_parallel_sums(const Tensor& logits, const Tensor& targets,
                                      int64_t vocab_offset, const Tensor& row_max,
                                      const Tensor& stats) {
  pending("vocab_parallel_sums");
}
void CudaBackend::vocab_parallel_loss(const Tensor& row_max, const Tensor& stats,
                                      const Tensor& targets, const Tensor& losses,
                                      const Tensor& lse) {
  pending("vocab_parallel_loss");
}
void CudaBackend::vocab_parallel_backward(const Tensor& logits, const Tensor& lse,
                                          const Tensor& targets, int64_t vocab_offset, double scale,
                                          const Tensor& dlogits) {
  pending("vocab_parallel_backward");
}

}  // namespace pha
