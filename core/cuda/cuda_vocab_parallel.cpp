// CudaBackend vocab-parallel cross-entropy: checks, then the kernels of cuda_vocab_parallel.cu.
// logits, dlogits [rows, V_local] (f32, f64 or bf16); targets i32 [rows] of global ids on the GPU;
// row_max, losses, lse [rows] and stats [2, rows] in the compute type (f32 for f32 and bf16
// logits, f64 for f64), so the all-reduces between the ops move f32 or f64. Unlike the CPU, a sum
// of exps below 1 (skipped or mismatched all-reduces) is not refused but gives NaN losses: the
// stats stay on the GPU.
#include "core/cuda/cuda_backend.h"

namespace pha {

namespace {

void require_logits(const char* op, const Tensor& logits) {
  cuda::require_float_on_gpu(op, "logits", logits);
  PHA_REQUIRE(logits.rank() >= 1 && logits.shape.last() > 0,
              "{}: logits {} need a non-empty vocabulary dim", op, logits.shape.str());
}

void require_targets(const char* op, int64_t rows, const Tensor& targets) {
  cuda::require_on_gpu(op, "targets", targets);
  PHA_REQUIRE(targets.dtype == DType::i32, "{}: targets must be i32, got {}", op,
              targets.describe());
  PHA_REQUIRE(targets.numel() == rows, "{}: targets {} must hold one value per row ({} rows)", op,
              targets.shape.str(), rows);
}

void require_offset(const char* op, int64_t vocab_offset) {
  PHA_REQUIRE(vocab_offset >= 0, "{}: vocab_offset {} must not be negative", op, vocab_offset);
}

// stats [2, rows] in `stat` (the compute type).
void require_stats(const char* op, const Tensor& stats, int64_t rows, DType stat) {
  cuda::require_on_gpu(op, "stats", stats);
  require_shape(op, "stats", stats, Shape{2, rows});
  PHA_REQUIRE(stats.dtype == stat, "{}: stats is {} but must be {} (the compute type)", op,
              stats.describe(), dtype_name(stat));
}

}  // namespace

void CudaBackend::vocab_parallel_max(const Tensor& logits, const Tensor& row_max) {
  const char* op = "vocab_parallel_max";
  require_logits(op, logits);
  cuda::require_row_stat(op, "row_max", row_max, "logits", logits);
  cuda::vocab_parallel_max(launch(), logits.dtype, logits.data, row_max.data, logits.shape.rows(),
                           logits.shape.last());
}

void CudaBackend::vocab_parallel_sums(const Tensor& logits, const Tensor& targets,
                                      int64_t vocab_offset, const Tensor& row_max,
                                      const Tensor& stats) {
  const char* op = "vocab_parallel_sums";
  require_logits(op, logits);
  const int64_t rows = logits.shape.rows();
  require_targets(op, rows, targets);
  require_offset(op, vocab_offset);
  cuda::require_row_stat(op, "row_max", row_max, "logits", logits);
  require_stats(op, stats, rows, cuda::compute_dtype(logits.dtype));
  cuda::vocab_parallel_sums(launch(), logits.dtype, logits.data,
                            static_cast<const int32_t*>(targets.data), vocab_offset, row_max.data,
                            stats.data, rows, logits.shape.last());
}

// No logits here: row_max fixes the compute type (f32 or f64), the other tensors follow it.
void CudaBackend::vocab_parallel_loss(const Tensor& row_max, const Tensor& stats,
                                      const Tensor& targets, const Tensor& losses,
                                      const Tensor& lse) {
  const char* op = "vocab_parallel_loss";
  const int64_t rows = targets.numel();
  require_targets(op, rows, targets);
  PHA_REQUIRE(row_max.dtype == DType::f32 || row_max.dtype == DType::f64,
              "{}: row_max is {} but must be f32 or f64 (the compute type of the logits)", op,
              row_max.describe());
  require_stats(op, stats, rows, row_max.dtype);
  const struct {
    const char* name;
    const Tensor& t;
  } per_row[] = {{"row_max", row_max}, {"losses", losses}, {"lse", lse}};
  for (const auto& [name, t] : per_row) {
    cuda::require_on_gpu(op, name, t);
    PHA_REQUIRE(t.numel() == rows, "{}: {} {} must hold one value per row ({} rows)", op, name,
                t.shape.str(), rows);
    PHA_REQUIRE(t.dtype == row_max.dtype, "{}: {} is {} but row_max is {}; they share one dtype",
                op, name, t.describe(), row_max.describe());
  }
  cuda::vocab_parallel_loss(launch(), row_max.dtype, row_max.data, stats.data,
                            static_cast<const int32_t*>(targets.data), losses.data, lse.data, rows);
}

// dlogits may alias logits.
void CudaBackend::vocab_parallel_backward(const Tensor& logits, const Tensor& lse,
                                          const Tensor& targets, int64_t vocab_offset, double scale,
                                          const Tensor& dlogits) {
  const char* op = "vocab_parallel_backward";
  require_logits(op, logits);
  const int64_t rows = logits.shape.rows();
  require_targets(op, rows, targets);
  require_offset(op, vocab_offset);
  cuda::require_row_stat(op, "lse", lse, "logits", logits);
  cuda::require_like(op, "dlogits", dlogits, "logits", logits);
  cuda::vocab_parallel_backward(launch(), logits.dtype, logits.data, lse.data,
                                static_cast<const int32_t*>(targets.data), vocab_offset, scale,
                                dlogits.data, rows, logits.shape.last());
}

}  // namespace pha
