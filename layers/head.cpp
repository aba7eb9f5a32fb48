#include "layers/head.h"

namespace pha {

HeadLayer make_head(Planner& plan, const LayerShape& s) {
  const ModelConfig& c = s.cfg;
  const int64_t vocab = s.local(c.vocab_padded());
  HeadLayer H;
  H.final_norm = plan.param("final_norm.weight", {c.d}, InitKind::ones, 0, ParamGroup::no_decay);
  if (!c.tie_embeddings)
    H.untied_weight = plan.param("head.weight", {c.vocab_padded(), c.d}, InitKind::normal, 0.02,
                                 ParamGroup::decay, TpSplit::rows);
  H.y = plan.act("head.y", {s.batch, s.seq_len, c.d});
  H.rstd = plan.stat("head.rstd", {s.rows()});
  H.logits = plan.act("head.logits", {s.rows(), vocab});
  H.losses = plan.stat("head.losses", {s.rows()});
  H.lse = plan.stat("head.lse", {s.rows()});
  if (s.tp.size > 1) {
    H.row_max = plan.stat("head.row_max", {s.rows()});
    H.stats = plan.stat("head.stats", {2, s.rows()});
  }
  H.d_y = plan.scratch("head.d_y", {s.batch, s.seq_len, c.d});
  H.vocab_offset = vocab * s.tp.rank;
  H.eps = c.norm_eps;
  return H;
}

void head_logits(Backend& be, const HeadLayer& H, const Tensor& x_last, const Tensor& weight) {
  be.rmsnorm_forward(x_last, H.final_norm.value, H.y, H.rstd, H.eps);
  be.linear_forward(H.y, weight, H.logits);
}

double head_forward(Backend& be, const HeadLayer& H, const Tensor& x_last, const Tensor& weight,
                    const Tensor& targets, Communicator* tp) {
  head_logits(be, H, x_last, weight);
  if (!tp) {
    be.cross_entropy_forward(H.logits, targets, H.losses, H.lse);
  } else {
    be.vocab_parallel_max(H.logits, H.row_max);
    tp->all_reduce(H.row_max, parallel::ReduceOp::max);
    be.vocab_parallel_sums(H.logits, targets, H.vocab_offset, H.row_max, H.stats);
    tp->all_reduce(H.stats, parallel::ReduceOp::sum);
    be.vocab_parallel_loss(H.row_max, H.stats, targets, H.losses, H.lse);
  }
  return be.sum(H.losses);
}

void head_backward(Backend& be, const HeadLayer& H, const Tensor& x_last, const Tensor& weight,
                   const Tensor& weight_grad, const Tensor& targets, double scale,
                   const Tensor& d_res, Communicator* tp) {
  if (!tp)
    be.cross_entropy_backward(H.logits, H.lse, targets, scale, H.logits);
  else
    be.vocab_parallel_backward(H.logits, H.lse, targets, H.vocab_offset, scale, H.logits);
  zero(be, H.d_y);
  be.linear_backward(H.logits, H.y, weight, H.d_y, weight_grad);
  tp_all_reduce(tp, H.d_y);  // each rank's dy covers only its vocabulary columns
  zero(be, d_res);
  be.rmsnorm_backward(H.d_y, x_last, H.final_norm.value, H.rstd, d_res, H.final_norm.grad);
}

}  // namespace pha
