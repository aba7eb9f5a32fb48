// CudaBackend fused log-softmax + cross-entropy: checks, then the kernels of
// cuda_cross_entropy.cu. logits, dlogits [rows, V]; targets i32 [rows] on the GPU; losses, lse
// [rows] in the compute type. The targets stay on the GPU: a target >= V gives a NaN loss (the
// trainer's non-finite check reports it); a negative one ignores the row.
#include "core/cuda/cuda_backend.h"

namespace pha {

namespace {

void require_targets(const char* op, const Tensor& logits, const Tensor& targets) {
  cuda::require_float_on_gpu(op, "logits", logits);
  PHA_REQUIRE(logits.rank() >= 1 && logits.shape.last() > 0,
              "{}: logits {} need a non-empty vocabulary dim", op, logits.shape.str());
  cuda::require_on_gpu(op, "targets", targets);
  PHA_REQUIRE(targets.dtype == DType::i32, "{}: targets must be i32, got {}", op,
              targets.describe());
  PHA_REQUIRE(targets.numel() == logits.shape.rows(),
              "{}: targets {} must hold one value per row of logits {} ({} rows)", op,
              targets.shape.str(), logits.shape.str(), logits.shape.rows());
}

}  // namespace

void CudaBackend::cross_entropy_forward(const Tensor& logits, const Tensor& targets,
                                        const Tensor& losses, const Tensor& lse) {
  const char* op = "cross_entropy_forward";
  require_targets(op, logits, targets);
  cuda::require_row_stat(op, "losses", losses, "logits", logits);
  cuda::require_row_stat(op, "lse", lse, "logits", logits);
  cuda::cross_entropy_forward(launch(), logits.dtype, logits.data,
                              static_cast<const int32_t*>(targets.data), losses.data, lse.data,
                              logits.shape.rows(), logits.shape.last());
}

// dlogits may alias logits.
void CudaBackend::cross_entropy_backward(const Tensor& logits, const Tensor& lse,
                                         const Tensor& targets, double scale,
                                         const Tensor& dlogits) {
  const char* op = "cross_entropy_backward";
  require_targets(op, logits, targets);
  cuda::require_row_stat(op, "lse", lse, "logits", logits);
  cuda::require_like(op, "dlogits", dlogits, "logits", logits);
  cuda::cross_entropy_backward(launch(), logits.dtype, logits.data, lse.data,
                               static_cast<const int32_t*>(targets.data), scale, dlogits.data,
                               logits.shape.rows(), logits.shape.last());
}

}  // namespace pha
