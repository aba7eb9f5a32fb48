#include "layers/embedding.h"

namespace pha {

EmbeddingLayer make_embedding(Planner& plan, const LayerShape& s) {
  return EmbeddingLayer{plan.param("embedding.weight", {s.cfg.vocab_padded(), s.cfg.d},
                                   InitKind::normal, 0.02, ParamGroup::decay)};
}

void embedding_forward(Backend& be, const EmbeddingLayer& E, const Tensor& tokens,
                       const Tensor& x0) {
  be.embedding_forward(tokens, E.weight.value, x0);
}

void embedding_backward(Backend& be, const EmbeddingLayer& E, const Tensor& tokens,
                        const Tensor& dx0) {
  be.embedding_backward(tokens, dx0, E.weight.grad);
}

}  // namespace pha
