#include "layers/attention.h"

namespace pha {

AttentionLayer make_attention(Planner& plan, const std::string& prefix, const LayerShape& s) {
  const ModelConfig& c = s.cfg;
  const int64_t dh = c.head_dim(), B = s.batch, T = s.seq_len;
  // Each tp rank holds n_kv/tp key/value heads and their n_q/tp query heads (parallel.md):
  // Wq, Wk, Wv split by output rows, Wo by input columns.
  const int64_t n_q = s.local(c.n_q), n_kv = s.local(c.n_kv);
  AttentionLayer L;
  L.wq = plan.param(prefix + "wq", {c.n_q * dh, c.d}, InitKind::normal, 0.02, ParamGroup::decay,
                    TpSplit::rows);
  L.wk = plan.param(prefix + "wk", {c.n_kv * dh, c.d}, InitKind::normal, 0.02, ParamGroup::decay,
                    TpSplit::rows);
  L.wv = plan.param(prefix + "wv", {c.n_kv * dh, c.d}, InitKind::normal, 0.02, ParamGroup::decay,
                    TpSplit::rows);
  L.wo = plan.param(prefix + "wo", {c.d, c.n_q * dh}, InitKind::normal, output_proj_stddev(c),
                    ParamGroup::decay, TpSplit::cols);
  L.q = plan.act(prefix + "q", {B, T, n_q, dh});
  L.k = plan.act(prefix + "k", {B, T, n_kv, dh});
  L.v = plan.act(prefix + "v", {B, T, n_kv, dh});
  L.o = plan.act(prefix + "o", {B, T, n_q, dh});
  L.lse = plan.stat(prefix + "lse", {B, n_q, T});
  L.d_o = plan.scratch("attn.d_o", {B, T, n_q, dh});
  L.dq = plan.scratch("attn.dq", {B, T, n_q, dh});
  L.dk = plan.scratch("attn.dk", {B, T, n_kv, dh});
  L.dv = plan.scratch("attn.dv", {B, T, n_kv, dh});
  L.dk_pre = plan.scratch("attn.dk_pre", {B, T, n_kv, dh});
  L.window = c.attn_window;
  if (s.cp.size > 1) L.ring = make_context_ring(plan, s, n_kv, dh);
  return L;
}

namespace {
// [B, T, heads, d_h] seen as the [B*T, heads*d_h] rows a linear layer reads or writes.
Tensor as_rows(const Tensor& t) {
  return t.view({t.dim(0) * t.dim(1), t.dim(2) * t.dim(3)});
}

// RoPE on x [B, T, heads, d_h] in place (forward), or dx += RoPE^T dy (backward). Under context
// parallelism slot a ([B, C, ...] rows a B ..) holds chunk split.chunk(a): its rows' table rows.
void rope(Backend& be, const AttentionLayer& L, const Tensor& rope_table, const Tensor& x,
          const Tensor& dx, bool backward) {
  if (!L.ring) {
    if (backward)
      be.rope_backward(x, rope_table, dx);
    else
      be.rope_forward(x, rope_table, x);
    return;
  }
  const int64_t B = L.ring->batch, C = L.ring->chunk_len;
  for (int a = 0; a < 2; ++a) {
    const Tensor table = rope_table.slice0(L.ring->split.chunk(a) * C, C);
    if (backward)
      be.rope_backward(x.slice0(a * B, B), table, dx.slice0(a * B, B));
    else
      be.rope_forward(x.slice0(a * B, B), table, x.slice0(a * B, B));
  }
}
}  // namespace

void attention_project(Backend& be, const AttentionLayer& L, const Tensor& h, const Tensor& rope) {
  be.linear_forward(h, L.wq.compute, as_rows(L.q));
  be.linear_forward(h, L.wk.compute, as_rows(L.k));
  be.linear_forward(h, L.wv.compute, as_rows(L.v));
  pha::rope(be, L, rope, L.q, Tensor(), false);
  pha::rope(be, L, rope, L.k, Tensor(), false);
}

void attention_output(Backend& be, const AttentionLayer& L, const Tensor& out) {
  be.linear_forward(as_rows(L.o), L.wo.compute, out);
}

void attention_core(Backend& be, const AttentionLayer& L, const Tensor& h, const Tensor& rope) {
  attention_project(be, L, h, rope);
  if (L.ring)
    ring_attention_forward(be, *L.ring, L.q, L.k, L.v, L.o, L.lse, L.window);
  else
    be.attention_forward(L.q, L.k, L.v, L.o, L.lse, L.window);
}

void attention_forward(Backend& be, const AttentionLayer& L, const Tensor& h, const Tensor& rope,
                       const Tensor& out) {
  attention_core(be, L, h, rope);
  attention_output(be, L, out);
}

void attention_backward(Backend& be, const AttentionLayer& L, const Tensor& h, const Tensor& rope,
                        const Tensor& dout, const Tensor& dh, const Tensor& mixer_dot) {
  be.linear_backward(dout, as_rows(L.o), L.wo.compute, as_rows(L.d_o), L.wo.grad, 0.0);
  if (!mixer_dot.empty()) be.dot_accumulate(L.d_o, L.o, mixer_dot);
  zero(be, L.dq);
  zero(be, L.dk);
  zero(be, L.dv);
  if (L.ring)
    ring_attention_backward(be, *L.ring, L.d_o, L.q, L.k, L.v, L.o, L.lse, L.dq, L.dk, L.dv,
                            L.window);
  else
    be.attention_backward(L.d_o, L.q, L.k, L.v, L.o, L.lse, L.dq, L.dk, L.dv, L.window);
  // d_o is free now: it takes the query gradient before RoPE.
  zero(be, L.d_o);
  pha::rope(be, L, rope, L.dq, L.d_o, true);
  zero(be, L.dk_pre);
  pha::rope(be, L, rope, L.dk, L.dk_pre, true);
  be.linear_backward(as_rows(L.d_o), h, L.wq.compute, dh, L.wq.grad);
  be.linear_backward(as_rows(L.dk_pre), h, L.wk.compute, dh, L.wk.grad);
  be.linear_backward(as_rows(L.dv), h, L.wv.compute, dh, L.wv.grad);
}

}  // namespace pha
