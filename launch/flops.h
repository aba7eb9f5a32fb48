#pragma once
// Model FLOPs per trained token (forward + backward = 3 x forward), for throughput and MFU, and
// the machine's measured matmul peak to compare with.
#include <cstdint>

#include "core/backend.h"
#include "layers/model_config.h"

namespace pha::launch {

// Forward FLOPs per token at sequence length T: 2 x every matmul weight (the head's V_pad x d
// included, the embedding gather not), causal attention scores and weighted sums (2 x 2 x n_q x
// d_h x (T+1)/2 per layer), and the GSS FFT convolution (3 real FFTs of length 2T per channel,
// 2.5 N log2 N each, spread over T tokens).
double forward_flops_per_token(const ModelConfig& cfg, int64_t seq_len);
inline double train_flops_per_token(const ModelConfig& cfg, int64_t seq_len) {
  return 3.0 * forward_flops_per_token(cfg, seq_len);
}

// Best of a few square matmuls of size n on `backend`, in FLOP/s: f32 x f32 -> f32, or bf16 x
// bf16 -> f32 (fp32 accumulation, the tensor-core path of mixed precision).
double measure_matmul_peak(Backend& backend, DType dtype = DType::f32, int64_t n = 1024,
                           int repeats = 5);

}  // namespace pha::launch
