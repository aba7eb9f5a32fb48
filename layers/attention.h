#pragma once
// The attention branch: causal GQA with RoPE, no biases (model.md, "Attention branch").
#include <optional>

#include "layers/layer_common.h"
#include "layers/ring_attention.h"

namespace pha {

struct AttentionLayer {
  Param wq, wk, wv, wo;            // [n_q*d_h, d], [n_kv*d_h, d], [n_kv*d_h, d], [d, n_q*d_h]
  Tensor q, k, v;                  // acts, after RoPE: [B, T, n_q, d_h], [B, T, n_kv, d_h] x2
  Tensor o, lse;                   // acts: [B, T, n_q, d_h], [B, n_q, T]
  Tensor d_o, dq, dk, dv, dk_pre;  // backward scratch
  int64_t window = 0;
  std::optional<ContextRing> ring;  // context parallelism: this rank holds two chunks (slot-major)
};

AttentionLayer make_attention(Planner& plan, const std::string& prefix, const LayerShape& s);
// out = Attention(h): h [B, T, d], rope [T_max, d_h/2, 2], out [B, T, d]. Under tensor
// parallelism `out` is this rank's partial sum over its heads (the block reduces it).
void attention_forward(Backend& be, const AttentionLayer& L, const Tensor& h, const Tensor& rope,
                       const Tensor& out);
// The two halves around the score computation (the incremental decoder supplies its own middle):
// q, k, v = h Wq^T, h Wk^T, h Wv^T with RoPE on q and k, position t of h rotated by row t of rope
// (under context parallelism, each slot's chunk by the rows of its global positions);
// and out = o Wo^T.
void attention_project(Backend& be, const AttentionLayer& L, const Tensor& h, const Tensor& rope);
void attention_output(Backend& be, const AttentionLayer& L, const Tensor& out);
// Everything before the output projection: attention_project and the core into o and lse
// (recomputation when the mixer needs no branch output).
void attention_core(Backend& be, const AttentionLayer& L, const Tensor& h, const Tensor& rope);
// dh += d Attention / dh . dout; parameter gradients +=. mixer_dot (may be empty): += <d o, o>,
// the softmax mixer's share of this branch (mixer.h).
void attention_backward(Backend& be, const AttentionLayer& L, const Tensor& h, const Tensor& rope,
                        const Tensor& dout, const Tensor& dh, const Tensor& mixer_dot);

}  // namespace pha
