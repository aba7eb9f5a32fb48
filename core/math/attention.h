#pragma once
// Causal GQA attention index math shared by the CPU and CUDA backends.
#include <cmath>
#include <cstdint>

#include "core/hd.h"

namespace pha {

// The first key position query t sees: 0 for full causal attention (window 0), else t - window + 1
// (clamped at 0). The last is t itself.
PHA_HD int64_t attention_first_key(int64_t t, int64_t window) {
  return window > 0 && t >= window ? t - window + 1 : 0;
}

// The key/value head that query head j reads: each group of n_q / n_kv query heads shares one.
PHA_HD int64_t attention_kv_head(int64_t j, int64_t n_q, int64_t n_kv) {
  return j / (n_q / n_kv);
}

// Scores are q . k / sqrt(d_h).
template <typename T>
PHA_HD T attention_scale(int64_t d_h) {
  return static_cast<T>(1.0 / sqrt(static_cast<double>(d_h)));
}

}  // namespace pha
