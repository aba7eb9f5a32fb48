#pragma once
// Final norm, head and loss: y = RMSNorm(x_L), logits = y W^T with W = E (tied) or head.weight,
// loss = mean over counted rows of -log softmax(logits)[target]. All V_pad columns, the never-used
// padding rows of E included, take part in the softmax (model.md). Under tensor parallelism each
// rank holds V_pad/tp columns of the logits and the loss is vocab-parallel: the row max and the
// sums of exponentials are all-reduced, the logits are never gathered.
//
// Two ways to hold the logits (docs/model.md, "The head in chunks"):
//   whole (chunk_rows = 0): [B*T, V_pad/tp] kept from the forward for the backward, which
//     overwrites them with dlogits;
//   in chunks (chunk_rows > 0): one [chunk_rows, V_pad/tp] buffer; a training forward computes,
//     chunk by chunk, the loss and its gradient: dlogits, d_y (kept for the backward) and the
//     weight's gradient (+=), the same FLOPs without B*T*V_pad/tp floats kept.
#include <vector>

#include "layers/layer_common.h"

namespace pha {

struct HeadLayer {
  Param final_norm;     // [d]
  Param untied_weight;  // head.weight [V_pad / tp, d] when tie_embeddings = false
  Tensor y, rstd;       // acts [B, T, d], [B*T]
  // Whole: act [B*T, V_pad / tp] (backward overwrites it with dlogits); in chunks: scratch
  // [chunk_rows, V_pad / tp].
  Tensor logits;
  Tensor losses, lse;     // acts [B*T]
  Tensor row_max, stats;  // [rows], [2, rows] (rows: B*T or chunk_rows): vocab-parallel reductions
  Tensor d_y;             // [B, T, d]: scratch, or (in chunks) an act the training forward writes
  int64_t chunk_rows = 0;
  int64_t vocab_offset = 0;
  double eps = 1e-5;
};

// chunk_rows: 0 keeps the logits whole; otherwise the rows per chunk (at most B*T are used).
HeadLayer make_head(Planner& plan, const LayerShape& s, int64_t chunk_rows = 0);
// H.logits = RMSNorm(x_last) weight^T (whole logits only: the incremental decoder).
void head_logits(Backend& be, const HeadLayer& H, const Tensor& x_last, const Tensor& weight);

// What a training forward of a head in chunks also computes: the loss's gradient, scaled by
// `scale` (1 / counted rows for a mean), into weight_grad (+=) and H.d_y.
struct HeadGradient {
  Tensor weight_grad;
  double scale = 1.0;
};

// Returns the sum of the per-row losses (ignored rows count 0); `weight` is the head matrix.
// `grad` (heads in chunks only; required before head_backward) also takes the gradient;
// `predictions` (optional) receives each row's most likely global token id (the whole
// vocabulary's first maximum; collective over tp).
double head_forward(Backend& be, const HeadLayer& H, const Tensor& x_last, const Tensor& weight,
                    const Tensor& targets, Communicator* tp, const HeadGradient* grad = nullptr,
                    std::vector<int32_t>* predictions = nullptr);
// Whole logits: dlogits = dloss/dlogits * scale; weight_grad +=. In chunks the forward did that
// (weight_grad and scale unused). Then d_res = dloss/dx_last (written: it starts the residual
// gradient stream).
void head_backward(Backend& be, const HeadLayer& H, const Tensor& x_last, const Tensor& weight,
                   const Tensor& weight_grad, const Tensor& targets, double scale,
                   const Tensor& d_res, Communicator* tp);

}  // namespace pha
