#pragma once
// The RoPE table: (cos, sin) of p * theta_i for every position p < T_max and pair i < d_h/2,
// computed once per run and read by rope_forward / rope_backward on any backend.
#include <cstdint>

#include "core/backend.h"

namespace pha {

// [t_max, d_h / 2, 2]. Refuses an odd (or non-positive) head width: half-split RoPE pairs x_i with
// x_{i + d_h/2}.
Shape rope_table_shape(int64_t t_max, int64_t d_h);

// table [T_max, d_h/2, 2], f32 or f64, on the backend's device: table[p, i] = (cos, sin) of
// p * theta_i, theta_i = base^(-2i/d_h). Angles, cos and sin are computed in double, then rounded
// to the table's dtype, so f32 and f64 tables agree to the last f32 bit.
void rope_table_fill(Backend& backend, const Tensor& table, double base = 10000.0);

}  // namespace pha
