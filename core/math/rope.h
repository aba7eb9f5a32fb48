#pragma once
// RoPE (half-split) math shared by the CPU and CUDA backends. A head vector x [d_h] is rotated in
// the pairs (x_i, x_{i + d_h/2}), i in [0, d_h/2), by the angle p * theta_i at position p.
#include <cmath>
#include <cstdint>

#include "core/hd.h"

namespace pha {

// theta_i = base^(-2i / d_h), in double: the table rounds cos and sin of p * theta_i only at the
// end.
PHA_HD double rope_theta(int64_t i, int64_t d_h, double base) {
  return pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(d_h));
}

// (a, b) -> (a cos - b sin, a sin + b cos). Reads both inputs before writing: outputs may alias.
template <typename T>
PHA_HD void rope_rotate(T a, T b, T cos_v, T sin_v, T& out_a, T& out_b) {
  const T ra = a * cos_v - b * sin_v;
  const T rb = a * sin_v + b * cos_v;
  out_a = ra;
  out_b = rb;
}

// The transpose (= inverse) rotation, accumulated: the gradient through rope_rotate.
// (da, db) += (dy_a cos + dy_b sin, -dy_a sin + dy_b cos).
template <typename T>
PHA_HD void rope_rotate_backward(T dy_a, T dy_b, T cos_v, T sin_v, T& da, T& db) {
  da += dy_a * cos_v + dy_b * sin_v;
  db += dy_b * cos_v - dy_a * sin_v;
}

}  // namespace pha
