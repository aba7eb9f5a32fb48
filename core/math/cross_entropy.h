#pragma once
// Per-row pieces of the vocab-parallel cross-entropy (see backend.h), one definition for the CPU
// and CUDA backends, so both round the same steps in the same types.
#include <cmath>
#include <cstdint>

#include "core/hd.h"

namespace pha {

// The column of global vocabulary id `target` in a shard holding columns [vocab_offset,
// vocab_offset + vocab_local), or -1 when another shard holds it or the row is ignored (a negative
// target minus a non-negative offset stays negative).
PHA_HD int64_t vocab_shard_column(int32_t target, int64_t vocab_offset, int64_t vocab_local) {
  const int64_t col = int64_t{target} - vocab_offset;
  return col >= 0 && col < vocab_local ? col : -1;
}

// lse = row_max + log(sum of exp(logit - row_max)), in double.
PHA_HD double log_sum_exp(double row_max, double sum_exp) {
  using std::log;
  return row_max + log(sum_exp);
}

// A row's loss lse - logit[target] (target_logit: the all-reduced stats[1]), 0 when the row is
// ignored (negative target).
PHA_HD double row_cross_entropy(int32_t target, double lse, double target_logit) {
  return target < 0 ? 0.0 : lse - target_logit;
}

// One element of the scaled softmax gradient of a counted row: exp(x - lse) * scale, minus scale
// at the target's column. Rounded in T in two steps, as the fused cross_entropy_backward does.
template <typename T>
PHA_HD T softmax_xent_grad(T x, T lse, T scale, bool is_target) {
  using std::exp;  // the float overload on the host (the unqualified C exp is double)
  const T g = exp(x - lse) * scale;
  return is_target ? g - scale : g;
}

}  // namespace pha
