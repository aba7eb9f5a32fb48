#include "layers/head.h"

namespace pha {

HeadLayer make_head(Planner& plan, const LayerShape& s) {
  const ModelConfig& c = s.cfg;
  HeadLayer H;
  H.final_norm =
      plan.param("final_norm.weight", {c.d}, InitKind::ones, 0, ParamGroup::no_decay);
  if (!c.tie_embeddings)
    H.untied_weight = plan.param("head.weight", {c.vocab_padded(), c.d}, InitKind::normal, 0.02,
                                 ParamGroup::decay);
  H.y = plan.act("head.y", {s.batch, s.seq_len, c.d});
  H.rstd = plan.act("head.rstd", {s.rows()});
  H.logits = plan.act("head.logits", {s.rows(), c.vocab_padded()});
  H.losses = plan.act("head.losses", {s.rows()});
  H.lse = plan.act("head.lse", {s.rows()});
  H.d_y = plan.scratch("head.d_y", {s.batch, s.seq_len, c.d});
  H.eps = c.norm_eps;
  return H;
}

double head_forward(Backend& be, const HeadLayer& H, const Tensor& x_last, const Tensor& weight,
                    const Tensor& targets) {
  be.rmsnorm_forward(x_last, H.final_norm.value, H.y, H.rstd, H.eps);
  be.linear_forward(H.y, weight, H.logits);
  be.cross_entropy_forward(H.logits, targets, H.losses, H.lse);
  return be.sum(H.losses);
}

void head_backward(Backend& be, const HeadLayer& H, const Tensor& x_last, const Tensor& weight,
                   const Tensor& weight_grad, const Tensor& targets, double scale,
                   const Tensor& d_res) {
  be.cross_entropy_backward(H.logits, H.lse, targets, scale, H.logits);
  zero(be, H.d_y);
  be.linear_backward(H.logits, H.y, weight, H.d_y, weight_grad);
  zero(be, d_res);
  be.rmsnorm_backward(H.d_y, x_last, H.final_norm.value, H.rstd, d_res, H.final_norm.grad);
}

}  // namespace pha
