#pragma once
// Token embedding: x_0 = E[tokens], E [V_pad, d]; no position embedding (RoPE only). Under tensor
// parallelism E is split by vocabulary rows: each rank gathers the tokens it holds (the others
// give zero rows) and one all-reduce assembles x_0.
#include "layers/layer_common.h"

namespace pha {

struct EmbeddingLayer {
  Param weight;              // [V_pad / tp, d]
  int64_t vocab_offset = 0;  // first vocabulary row this rank holds
  int64_t vocab_rows = 0;    // rows this rank holds
};

EmbeddingLayer make_embedding(Planner& plan, const LayerShape& s);
// Maps token ids to this rank's rows: id - vocab_offset, or -1 for ids another rank holds.
void local_token_ids(const EmbeddingLayer& E, const int32_t* tokens, int64_t n, int32_t* local);
// local_tokens: from local_token_ids.
void embedding_forward(Backend& be, const EmbeddingLayer& E, const Tensor& local_tokens,
                       const Tensor& x0, Communicator* tp);
// E.grad[tokens] += dx0 for the tokens this rank holds.
void embedding_backward(Backend& be, const EmbeddingLayer& E, const Tensor& local_tokens,
                        const Tensor& dx0);

}  // namespace pha
