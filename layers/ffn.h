#pragma once
// The FFN branch: f = GELU(h W1^T) W2^T, no biases.
#include "layers/layer_common.h"

namespace pha {

struct FfnLayer {
  Param w1, w2;  // [d_ff, d], [d, d_ff]
  Tensor pre;    // act [B, T, d_ff]: h W1^T
  // Scratch [B, T, d_ff]: GELU(pre), what W2 reads; backward rebuilds it from pre (one
  // elementwise pass instead of keeping d_ff floats per row) and then reuses it for d_pre.
  Tensor act;
  Tensor d_act;  // backward scratch [B, T, d_ff]
};

FfnLayer make_ffn(Planner& plan, const std::string& prefix, const LayerShape& s);
void ffn_forward(Backend& be, const FfnLayer& L, const Tensor& h, const Tensor& out);
// The hidden layer's projection alone, what backward reads: pre (recomputation; backward
// rebuilds act itself).
void ffn_hidden(Backend& be, const FfnLayer& L, const Tensor& h);
// dh += dFFN/dh . dout; parameter gradients +=. mixer_dot (may be empty): += <d act, act>, the
// softmax mixer's share of this branch (mixer.h).
void ffn_backward(Backend& be, const FfnLayer& L, const Tensor& h, const Tensor& dout,
                  const Tensor& dh, const Tensor& mixer_dot);

}  // namespace pha
