#pragma once
// Token embedding: x_0 = E[tokens], E [V_pad, d]; no position embedding (RoPE only).
#include "layers/layer_common.h"

namespace pha {

struct EmbeddingLayer {
  Param weight;  // [V_pad, d]
};

EmbeddingLayer make_embedding(Planner& plan, const LayerShape& s);
void embedding_forward(Backend& be, const EmbeddingLayer& E, const Tensor& tokens,
                       const Tensor& x0);
// E.grad[tokens] += dx0
void embedding_backward(Backend& be, const EmbeddingLayer& E, const Tensor& tokens,
                        const Tensor& dx0);

}  // namespace pha
