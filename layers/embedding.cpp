#include "layers/embedding.h"

namespace pha {

EmbeddingLayer make_embedding(Planner& plan, const LayerShape& s) {
  EmbeddingLayer E;
  E.weight = plan.param("embedding.weight", {s.cfg.vocab_padded(), s.cfg.d}, InitKind::normal, 0.02,
                        ParamGroup::decay, TpSplit::rows);
  E.vocab_rows = s.local(s.cfg.vocab_padded());
  E.vocab_offset = E.vocab_rows * s.tp.rank;
  return E;
}

void local_token_ids(const EmbeddingLayer& E, const int32_t* tokens, int64_t n, int32_t* local) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t id = tokens[i] - E.vocab_offset;
    local[i] = id >= 0 && id < E.vocab_rows ? static_cast<int32_t>(id) : -1;
  }
}

void embedding_forward(Backend& be, const EmbeddingLayer& E, const Tensor& local_tokens,
                       const Tensor& x0, Communicator* tp) {
  // The compute copy (the master without mixed precision): the same rows as the master's cast
  // to the activations' type, and under ZeRO only the copies are whole on every rank.
  be.embedding_forward(local_tokens, E.weight.compute, x0);
  tp_all_reduce(tp, x0);
}

void embedding_backward(Backend& be, const EmbeddingLayer& E, const Tensor& local_tokens,
                        const Tensor& dx0) {
  be.embedding_backward(local_tokens, dx0, E.weight.grad);
}

}  // namespace pha
