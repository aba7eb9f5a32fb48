#pragma once
// Model FLOPs per trained token (forward + backward = 3 x forward), for throughput and MFU, and
// the machine's measured matmul peak to compare with.
#include <cstdint>

#include "core/backend.h"
#include "layers/model_config.h"
#include "layers/planner.h"

namespace pha::launch {

// Forward FLOPs per token at sequence length T: 2 x every matmul weight (the head's V_pad x d
// included, the embedding gather not), causal attention scores and weighted sums (2 x 2 x n_q x
// d_h x (T+1)/2 per layer), and the GSS FFT convolution (3 real FFTs of length 2T per channel,
// 2.5 N log2 N each, spread over T tokens).
double forward_flops_per_token(const ModelConfig& cfg, int64_t seq_len);
inline double train_flops_per_token(const ModelConfig& cfg, int64_t seq_len) {
  return 3.0 * forward_flops_per_token(cfg, seq_len);
}

// The forward FLOPs per token that recomputation adds to a training step (block_recompute):
// selective: every block's Q/K/V, GSS input (Wu, Wz) and gate (Wg) and FFN input (W1)
// projections; full: every block's whole forward but a serial block's FFN output projection
// (norms, GELUs and the rest are not counted, as in forward_flops_per_token). 0 for none.
double recompute_flops_per_token(const ModelConfig& cfg, int64_t seq_len, Recompute mode);

// Best of `repeats` square matmuls of size n in `dtype` (a, b and c) on `backend`, after one
// warm-up, in FLOP/s. The CUDA backend multiplies f32 in pure f32 (no TF32) and bf16 on the tensor
// cores with f32 accumulation.
double measure_matmul_peak(Backend& backend, int64_t n = 1024, int repeats = 5,
                           DType dtype = DType::f32);

}  // namespace pha::launch
