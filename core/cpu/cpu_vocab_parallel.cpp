// Vocab-parallel cross-entropy: this rank's logits [rows, V_local] are columns
// [vocab_offset, vocab_offset + V_local) of the full [rows, V]; the caller all-reduces row_max
// (MAX) and stats (SUM) between the ops (see backend.h). The row kernels are the fused ops' own
// (cross_entropy_rows.h): each row one serial loop with its sum in double, so results do not
// depend on the thread count. With one shard the ops repeat the
// fused cross_entropy_forward/backward step for step: f64 results equal it bit for bit, and f32
// ones differ only by the rounding of the sum of exps to f32 for the reduction.
#include <algorithm>
#include <cmath>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/cross_entropy_rows.h"
#include "core/cpu/parallel.h"
#include "core/math/cross_entropy.h"

namespace pha {
namespace {

// logits [rows, V_local] with V_local > 0.
void check_logits(const char* op, const Tensor& logits) {
  PHA_REQUIRE(logits.rank() >= 1 && logits.shape.last() > 0,
              "{}: logits {} need a non-empty vocabulary dim", op, logits.shape.str());
}

// A per-row tensor (targets, row_max, losses, lse) holds one value for each of `rows` rows.
void check_per_row(const char* op, int64_t rows, const char* name, const Tensor& t) {
  PHA_REQUIRE(t.numel() == rows, "{}: {} {} must hold one value per row ({} rows)", op, name,
              t.shape.str(), rows);
}

// targets i32 [rows] of global vocabulary ids; negative = ignored row. Ids >= V are the caller's
// to refuse: no rank knows V.
void check_targets(const char* op, int64_t rows, const Tensor& targets) {
  PHA_REQUIRE(targets.dtype == DType::i32, "{}: targets must be i32, got {}", op,
              targets.describe());
  check_per_row(op, rows, "targets", targets);
}

void check_offset(const char* op, int64_t vocab_offset) {
  PHA_REQUIRE(vocab_offset >= 0, "{}: vocab_offset {} must not be negative", op, vocab_offset);
}

}  // namespace

// row_max[r] = max_j logits[r, j] over the local columns.
void CpuBackend::vocab_parallel_max(const Tensor& logits, const Tensor& row_max) {
  const char* op = "vocab_parallel_max";
  check_logits(op, logits);
  const int64_t rows = logits.shape.rows(), vocab = logits.shape.last();
  check_per_row(op, rows, "row_max", row_max);
  require_same_dtype(op, logits, row_max);
  dispatch_float(op, logits.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* x = logits.as<T>();  // [rows, V_local]
    T* m = row_max.as<T>();       // [rows]
    cpu::for_rows(rows, vocab, [&](int64_t r) { m[r] = cpu::row_max(x + r * vocab, vocab); });
  });
}

// stats[0, r] = sum_j exp(logits[r, j] - row_max[r]) (in double); stats[1, r] = the target's
// logit when its column is local, else 0.
void CpuBackend::vocab_parallel_sums(const Tensor& logits, const Tensor& targets,
                                     int64_t vocab_offset, const Tensor& row_max,
                                     const Tensor& stats) {
  const char* op = "vocab_parallel_sums";
  check_logits(op, logits);
  const int64_t rows = logits.shape.rows(), vocab = logits.shape.last();
  check_targets(op, rows, targets);
  check_offset(op, vocab_offset);
  check_per_row(op, rows, "row_max", row_max);
  require_shape(op, "stats", stats, Shape{2, rows});
  require_same_dtype(op, logits, row_max);
  require_same_dtype(op, logits, stats);
  const int32_t* tgt = targets.as<int32_t>();
  dispatch_float(op, logits.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* x = logits.as<T>();      // [rows, V_local]
    const T* m = row_max.as<T>();     // [rows]
    T* sumexp = stats.as<T>();        // [rows]: stats row 0
    T* target_logit = sumexp + rows;  // [rows]: stats row 1
    cpu::for_rows(rows, vocab, [&](int64_t r) {
      const T* row = x + r * vocab;
      sumexp[r] = static_cast<T>(cpu::row_sum_exp(row, vocab, m[r]));
      const int64_t col = vocab_shard_column(tgt[r], vocab_offset, vocab);
      target_logit[r] = col < 0 ? T(0) : row[col];
    });
  });
}

// lse[r] = row_max[r] + log(stats[0, r]); losses[r] = lse[r] - stats[1, r], 0 for an ignored
// row (in double, as the fused op).
void CpuBackend::vocab_parallel_loss(const Tensor& row_max, const Tensor& stats,
                                     const Tensor& targets, const Tensor& losses,
                                     const Tensor& lse) {
  const char* op = "vocab_parallel_loss";
  const int64_t rows = targets.numel();
  check_targets(op, rows, targets);
  check_per_row(op, rows, "row_max", row_max);
  require_shape(op, "stats", stats, Shape{2, rows});
  check_per_row(op, rows, "losses", losses);
  check_per_row(op, rows, "lse", lse);
  require_same_dtype(op, row_max, stats);
  require_same_dtype(op, row_max, losses);
  require_same_dtype(op, row_max, lse);
  const int32_t* tgt = targets.as<int32_t>();
  dispatch_float(op, row_max.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* m = row_max.as<T>();           // [rows]
    const T* sumexp = stats.as<T>();        // [rows]
    const T* target_logit = sumexp + rows;  // [rows]
    T* loss = losses.as<T>();               // [rows]
    T* out_lse = lse.as<T>();               // [rows]
    // Serial, so the refusal is thrown outside any OpenMP region; NaN passes (as in the fused op)
    // for the trainer's non-finite loss check to report.
    for (int64_t r = 0; r < rows; ++r)
      PHA_REQUIRE(!(sumexp[r] < T(1)),
                  "{}: the sum of exps {} at row {} is below 1: all-reduce row_max with MAX "
                  "before vocab_parallel_sums and stats with SUM after it, with the same row_max",
                  op, static_cast<double>(sumexp[r]), r);
    cpu::parallel_for(rows, [&](int64_t r) {
      const double l = log_sum_exp(static_cast<double>(m[r]), static_cast<double>(sumexp[r]));
      out_lse[r] = static_cast<T>(l);
      loss[r] = static_cast<T>(row_cross_entropy(tgt[r], l, static_cast<double>(target_logit[r])));
    });
  });
}

// dlogits[r, :] = (exp(logits[r, :] - lse[r]) - onehot(target - vocab_offset)) * scale, 0 for an
// ignored row. Each element is read before it is written, so dlogits may alias logits.
void CpuBackend::vocab_parallel_backward(const Tensor& logits, const Tensor& lse,
                                         const Tensor& targets, int64_t vocab_offset, double scale,
                                         const Tensor& dlogits) {
  const char* op = "vocab_parallel_backward";
  check_logits(op, logits);
  const int64_t rows = logits.shape.rows(), vocab = logits.shape.last();
  check_targets(op, rows, targets);
  check_offset(op, vocab_offset);
  check_per_row(op, rows, "lse", lse);
  require_same_shape(op, "dlogits", dlogits, "logits", logits);
  require_same_dtype(op, logits, lse);
  require_same_dtype(op, logits, dlogits);
  const int32_t* tgt = targets.as<int32_t>();
  dispatch_float(op, logits.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* x = logits.as<T>();  // [rows, V_local]
    const T* l = lse.as<T>();     // [rows]
    T* g = dlogits.as<T>();       // [rows, V_local]
    const T s = static_cast<T>(scale);
    cpu::for_rows(rows, vocab, [&](int64_t r) {
      const T* in = x + r * vocab;
      T* out = g + r * vocab;
      if (tgt[r] < 0) {
        std::fill(out, out + vocab, T(0));
        return;
      }
      cpu::row_softmax_grad(in, out, vocab, l[r], s,
                            vocab_shard_column(tgt[r], vocab_offset, vocab));
    });
  });
}

}  // namespace pha
