#include "layers/head.h"

#include "layers/vocab_argmax.h"

namespace pha {

HeadLayer make_head(Planner& plan, const LayerShape& s, int64_t chunk_rows) {
  const ModelConfig& c = s.cfg;
  const int64_t vocab = s.local(c.vocab_padded());
  HeadLayer H;
  H.final_norm = plan.param("final_norm.weight", {c.d}, InitKind::ones, 0, ParamGroup::no_decay);
  if (!c.tie_embeddings)
    H.untied_weight = plan.param("head.weight", {c.vocab_padded(), c.d}, InitKind::normal, 0.02,
                                 ParamGroup::decay, TpSplit::rows);
  H.y = plan.act("head.y", {s.batch, s.seq_len, c.d});
  H.rstd = plan.stat("head.rstd", {s.rows()});
  H.chunk_rows = chunk_rows > 0 ? std::min(chunk_rows, s.rows()) : 0;
  const int64_t logit_rows = H.chunk_rows > 0 ? H.chunk_rows : s.rows();
  if (H.chunk_rows > 0) {
    H.logits = plan.scratch("head.logits", {logit_rows, vocab});
    H.d_y = plan.act("head.d_y", {s.batch, s.seq_len, c.d});
  } else {
    H.logits = plan.act("head.logits", {logit_rows, vocab});
    H.d_y = plan.scratch("head.d_y", {s.batch, s.seq_len, c.d});
  }
  H.losses = plan.stat("head.losses", {s.rows()});
  H.lse = plan.stat("head.lse", {s.rows()});
  if (s.tp.size > 1) {
    H.row_max = plan.stat("head.row_max", {logit_rows});
    H.stats = plan.stat("head.stats", {2, logit_rows});
  }
  H.vocab_offset = vocab * s.tp.rank;
  H.eps = c.norm_eps;
  return H;
}

void head_logits(Backend& be, const HeadLayer& H, const Tensor& x_last, const Tensor& weight) {
  PHA_REQUIRE(H.chunk_rows == 0, "head_logits: this head keeps its logits in chunks");
  be.rmsnorm_forward(x_last, H.final_norm.value, H.y, H.rstd, H.eps);
  be.linear_forward(H.y, weight, H.logits);
}

namespace {

// Rows [first, first + n) of [B, T, d] as [n, d] (the rows are the B*T positions).
Tensor rows_of(const Tensor& t, int64_t first, int64_t n) {
  return t.view({t.shape.rows(), t.shape.last()}).slice0(first, n);
}

// losses and lse of the n rows whose logits are `logits` [n, V_pad / tp].
void rows_loss(Backend& be, const HeadLayer& H, const Tensor& logits, const Tensor& targets,
               const Tensor& losses, const Tensor& lse, Communicator* tp) {
  if (!tp) return be.cross_entropy_forward(logits, targets, losses, lse);
  const int64_t n = logits.dim(0);
  const Tensor row_max = H.row_max.slice0(0, n);
  const Tensor stats = H.stats.view({2 * H.stats.dim(1)}).slice0(0, 2 * n).view({2, n});
  be.vocab_parallel_max(logits, row_max);
  tp->all_reduce(row_max, parallel::ReduceOp::max);
  be.vocab_parallel_sums(logits, targets, H.vocab_offset, row_max, stats);
  tp->all_reduce(stats, parallel::ReduceOp::sum);
  be.vocab_parallel_loss(row_max, stats, targets, losses, lse);
}

// logits := dloss/dlogits * scale (in place).
void rows_dlogits(Backend& be, const HeadLayer& H, const Tensor& logits, const Tensor& lse,
                  const Tensor& targets, double scale, Communicator* tp) {
  if (!tp)
    be.cross_entropy_backward(logits, lse, targets, scale, logits);
  else
    be.vocab_parallel_backward(logits, lse, targets, H.vocab_offset, scale, logits);
}

}  // namespace

double head_forward(Backend& be, const HeadLayer& H, const Tensor& x_last, const Tensor& weight,
                    const Tensor& targets, Communicator* tp, const HeadGradient* grad,
                    std::vector<int32_t>* predictions) {
  PHA_REQUIRE(!grad || H.chunk_rows > 0,
              "head_forward: only a head in chunks takes the gradient in its forward");
  be.rmsnorm_forward(x_last, H.final_norm.value, H.y, H.rstd, H.eps);
  if (predictions) predictions->clear();
  const int64_t rows = H.losses.numel();
  const int64_t chunk = H.chunk_rows > 0 ? H.chunk_rows : rows;
  for (int64_t first = 0; first < rows; first += chunk) {
    const int64_t n = std::min(chunk, rows - first);
    const Tensor y = rows_of(H.y, first, n), logits = H.logits.slice0(0, n);
    const Tensor t = targets.slice0(first, n), lse = H.lse.slice0(first, n);
    be.linear_forward(y, weight, logits);
    rows_loss(be, H, logits, t, H.losses.slice0(first, n), lse, tp);
    if (predictions) {
      const std::vector<int32_t> p = vocab_parallel_argmax(be, tp, logits);
      predictions->insert(predictions->end(), p.begin(), p.end());
    }
    if (grad) {
      rows_dlogits(be, H, logits, lse, t, grad->scale, tp);
      be.linear_backward(logits, y, weight, rows_of(H.d_y, first, n), grad->weight_grad, 0.0);
    }
  }
  return be.sum(H.losses);
}

void head_backward(Backend& be, const HeadLayer& H, const Tensor& x_last, const Tensor& weight,
                   const Tensor& weight_grad, const Tensor& targets, double scale,
                   const Tensor& d_res, Communicator* tp) {
  if (H.chunk_rows == 0) {
    rows_dlogits(be, H, H.logits, H.lse, targets, scale, tp);
    be.linear_backward(H.logits, H.y, weight, H.d_y, weight_grad, 0.0);
  }
  tp_all_reduce(tp, H.d_y);  // each rank's dy covers only its vocabulary columns
  zero(be, d_res);
  be.rmsnorm_backward(H.d_y, x_last, H.final_norm.value, H.rstd, d_res, H.final_norm.grad);
}

}  // namespace pha
