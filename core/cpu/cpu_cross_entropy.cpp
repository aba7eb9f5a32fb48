// Fused log-softmax + cross-entropy over rows of logits [rows, V].
#include <algorithm>
#include <cmath>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/cross_entropy_rows.h"

namespace pha {
namespace {

constexpr int64_t kParallelMin = 1 << 15;  // logits below which threads cost more than they save

// A per-row tensor (targets, losses, lse) holds one value per row of logits [rows, V].
void check_per_row(const char* op, const Tensor& logits, const char* name, const Tensor& t) {
  PHA_REQUIRE(t.numel() == logits.shape.rows(),
              "{}: {} {} must hold one value per row of logits {} ({} rows)", op, name,
              t.shape.str(), logits.shape.str(), logits.shape.rows());
}

// targets i32 [rows]; refuses a target >= V (a negative target marks an ignored row).
void check_targets(const char* op, const Tensor& logits, const Tensor& targets) {
  PHA_REQUIRE(logits.rank() >= 1 && logits.shape.last() > 0,
              "{}: logits {} need a non-empty vocabulary dim", op, logits.shape.str());
  PHA_REQUIRE(targets.dtype == DType::i32, "{}: targets must be i32, got {}", op,
              targets.describe());
  check_per_row(op, logits, "targets", targets);
  const int32_t* tgt = targets.as<int32_t>();
  const int64_t vocab = logits.shape.last();
  for (int64_t r = 0; r < targets.numel(); ++r)
    PHA_REQUIRE(tgt[r] < vocab, "{}: target {} at row {} is not below the vocabulary size {}", op,
                tgt[r], r, vocab);
}

}  // namespace

// lse[r] = log sum_v exp(logits[r, v]) (max subtracted, exps summed in double: the row kernels of
// cross_entropy_rows.h, shared with the vocab-parallel ops);
// losses[r] = lse[r] - logits[r, target], 0 for an ignored row.
void CpuBackend::cross_entropy_forward(const Tensor& logits, const Tensor& targets,
                                       const Tensor& losses, const Tensor& lse) {
  const char* op = "cross_entropy_forward";
  check_targets(op, logits, targets);
  check_per_row(op, logits, "losses", losses);
  check_per_row(op, logits, "lse", lse);
  require_same_dtype(op, logits, losses);
  require_same_dtype(op, logits, lse);
  const int64_t rows = logits.shape.rows(), vocab = logits.shape.last();
  const int32_t* tgt = targets.as<int32_t>();
  dispatch_float(op, logits.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* x = logits.as<T>();  // [rows, V]
    T* loss = losses.as<T>();     // [rows]
    T* out_lse = lse.as<T>();     // [rows]
#pragma omp parallel for schedule(static) if (rows > 1 && rows * vocab >= kParallelMin)
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = x + r * vocab;
      const T m = cpu::row_max(row, vocab);
      const double l = log_sum_exp(static_cast<double>(m), cpu::row_sum_exp(row, vocab, m));
      out_lse[r] = static_cast<T>(l);
      loss[r] = tgt[r] < 0 ? T(0) : static_cast<T>(l - static_cast<double>(row[tgt[r]]));
    }
  });
}

// dlogits[r, :] = (exp(logits[r, :] - lse[r]) - onehot(target)) * scale, 0 for an ignored row.
// Each element is read before it is written, so dlogits may alias logits.
void CpuBackend::cross_entropy_backward(const Tensor& logits, const Tensor& lse,
                                        const Tensor& targets, double scale,
                                        const Tensor& dlogits) {
  const char* op = "cross_entropy_backward";
  check_targets(op, logits, targets);
  check_per_row(op, logits, "lse", lse);
  require_same_shape(op, "dlogits", dlogits, "logits", logits);
  require_same_dtype(op, logits, dlogits);
  require_same_dtype(op, logits, lse);
  const int64_t rows = logits.shape.rows(), vocab = logits.shape.last();
  const int32_t* tgt = targets.as<int32_t>();
  dispatch_float(op, logits.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* x = logits.as<T>();  // [rows, V]
    const T* l = lse.as<T>();     // [rows]
    T* g = dlogits.as<T>();       // [rows, V]
    const T s = static_cast<T>(scale);
#pragma omp parallel for schedule(static) if (rows > 1 && rows * vocab >= kParallelMin)
    for (int64_t r = 0; r < rows; ++r) {
      const T* in = x + r * vocab;
      T* out = g + r * vocab;
      if (tgt[r] < 0) {
        std::fill(out, out + vocab, T(0));
        continue;
      }
      cpu::row_softmax_grad(in, out, vocab, l[r], s, int64_t{tgt[r]});
    }
  });
}

}  // namespace pha
