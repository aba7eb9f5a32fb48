#pragma once
// Final norm, head and loss: y = RMSNorm(x_L), logits = y W^T with W = E (tied) or head.weight,
// loss = mean over counted rows of -log softmax(logits)[target]. All V_pad columns, the never-used
// padding rows of E included, take part in the softmax (model.md). Under tensor parallelism each
// rank holds V_pad/tp columns of the logits and the loss is vocab-parallel: the row max and the
// sums of exponentials are all-reduced, the logits are never gathered.
#include "layers/layer_common.h"

namespace pha {

struct HeadLayer {
  Param final_norm;       // [d]
  Param untied_weight;    // head.weight [V_pad / tp, d] when tie_embeddings = false
  Tensor y, rstd;         // acts [B, T, d], [B*T]
  Tensor logits;          // act [B*T, V_pad / tp]; backward overwrites it with dlogits
  Tensor losses, lse;     // acts [B*T]
  Tensor row_max, stats;  // acts [B*T], [2, B*T]: the vocab-parallel reductions
  Tensor d_y;             // scratch [B, T, d]
  int64_t vocab_offset = 0;
  double eps = 1e-5;
};

HeadLayer make_head(Planner& plan, const LayerShape& s);
// H.logits = RMSNorm(x_last) weight^T (the first half of head_forward).
void head_logits(Backend& be, const HeadLayer& H, const Tensor& x_last, const Tensor& weight);
// Returns the sum of the per-row losses (ignored rows count 0); `weight` is the head matrix.
double head_forward(Backend& be, const HeadLayer& H, const Tensor& x_last, const Tensor& weight,
                    const Tensor& targets, Communicator* tp);
// dlogits = dloss/dlogits * scale (scale = 1 / counted rows for a mean); weight_grad +=;
// d_res = dloss/dx_last (written: it starts the residual gradient stream).
void head_backward(Backend& be, const HeadLayer& H, const Tensor& x_last, const Tensor& weight,
                   const Tensor& weight_grad, const Tensor& targets, double scale,
                   const Tensor& d_res, Communicator* tp);

}  // namespace pha
