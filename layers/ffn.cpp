#include "layers/ffn.h"

namespace pha {

FfnLayer make_ffn(Planner& plan, const std::string& prefix, const LayerShape& s) {
  const ModelConfig& c = s.cfg;
  FfnLayer L;
  // W1 split by rows, W2 by columns: out is this rank's partial sum over its d_ff/tp slice.
  const int64_t d_ff = s.local(c.d_ff);
  L.w1 = plan.param(prefix + "w1", {c.d_ff, c.d}, InitKind::normal, 0.02, ParamGroup::decay,
                    TpSplit::rows);
  L.w2 = plan.param(prefix + "w2", {c.d, c.d_ff}, InitKind::normal, output_proj_stddev(c),
                    ParamGroup::decay, TpSplit::cols);
  L.pre = plan.act(prefix + "pre", {s.batch, s.seq_len, d_ff});
  L.act = plan.scratch("ffn.act", {s.batch, s.seq_len, d_ff});
  L.d_act = plan.scratch("ffn.d_act", {s.batch, s.seq_len, d_ff});
  return L;
}

void ffn_hidden(Backend& be, const FfnLayer& L, const Tensor& h) {
  be.linear_forward(h, L.w1.compute, L.pre);
}

void ffn_forward(Backend& be, const FfnLayer& L, const Tensor& h, const Tensor& out) {
  ffn_hidden(be, L, h);
  be.gelu_forward(L.pre, L.act);
  be.linear_forward(L.act, L.w2.compute, out);
}

void ffn_backward(Backend& be, const FfnLayer& L, const Tensor& h, const Tensor& dout,
                  const Tensor& dh, const Tensor& mixer_dot) {
  be.gelu_forward(L.pre, L.act);
  be.linear_backward(dout, L.act, L.w2.compute, L.d_act, L.w2.grad, 0.0);
  if (!mixer_dot.empty()) be.dot_accumulate(L.d_act, L.act, mixer_dot);
  const Tensor& d_pre = L.act;  // act is read: its buffer takes d_pre
  zero(be, d_pre);
  be.gelu_backward(L.pre, L.d_act, d_pre);
  be.linear_backward(d_pre, h, L.w1.compute, dh, L.w1.grad);
}

}  // namespace pha
