#include "layers/block.h"

#include <fmt/format.h>

namespace pha {

BlockLayer make_block(Planner& plan, int64_t layer, const LayerShape& s) {
  const ModelConfig& c = s.cfg;
  const std::string prefix = fmt::format("layers.{}.", layer);
  const int64_t B = s.batch, T = s.seq_len;
  BlockLayer L;
  L.kind = c.block;
  L.eps = c.norm_eps;
  L.recompute = plan.recompute();
  const bool serial = c.block.serial;
  L.norm = plan.param(prefix + (serial ? "attn_norm.weight" : "norm.weight"), {c.d}, InitKind::ones,
                      0, ParamGroup::no_decay);
  // The norms' outputs are scratch: backward rebuilds them from the block input (x_mid) and the
  // kept rstd in one elementwise pass.
  L.h = plan.scratch("block.h", {B, T, c.d});
  L.rstd = plan.stat(prefix + "rstd", {B * T});
  if (serial) {
    L.ffn_norm =
        plan.param(prefix + "ffn_norm.weight", {c.d}, InitKind::ones, 0, ParamGroup::no_decay);
    L.h2 = plan.scratch("block.h2", {B, T, c.d});
    L.rstd2 = plan.stat(prefix + "rstd2", {B * T});
    L.x_mid = plan.act(prefix + "x_mid", {B, T, c.d});
  }
  if (serial || c.block.attention) L.attention = make_attention(plan, prefix + "attn.", s);
  if (!serial && c.block.gss) L.gss = make_gss(plan, prefix + "gss.", s);
  if (serial || c.block.ffn) L.ffn = make_ffn(plan, prefix + "ffn.", s);
  L.n_branches = c.block.n_active();
  if (!serial) L.mixer = make_mixer(plan, prefix + "mixer.", s, L.n_branches);
  for (int i = 0; i < L.n_branches; ++i) {
    // A serial block's sub-layer outputs are never read by backward: scratch. A PHA block's
    // branch outputs are kept only for a mixer that reads them in backward (scalar, channel).
    if (serial)
      L.branch_out[i] = plan.scratch(i == 0 ? "block.attn_out" : "block.ffn_out", {B, T, c.d});
    else if (L.mixer->reads_branch_outputs)
      L.branch_out[i] = plan.act(prefix + fmt::format("branch{}", i), {B, T, c.d});
    else
      L.branch_out[i] = plan.scratch(fmt::format("block.branch{}", i), {B, T, c.d});
  }
  if (!serial) L.d_branch = plan.scratch("block.d_branch", {B, T, c.d});
  L.d_h = plan.scratch("block.d_h", {B, T, c.d});
  return L;
}

namespace {

void serial_forward(Backend& be, const BlockLayer& L, const Tensor& x_in, const Tensor& x_out,
                    Communicator* tp, const BranchFn& attention) {
  be.rmsnorm_forward(x_in, L.norm.value, L.h, L.rstd, L.eps);
  attention(L.h, L.branch_out[0]);
  tp_all_reduce(tp, L.branch_out[0]);
  be.add(x_in, L.branch_out[0], L.x_mid);
  be.rmsnorm_forward(L.x_mid, L.ffn_norm.value, L.h2, L.rstd2, L.eps);
  ffn_forward(be, *L.ffn, L.h2, L.branch_out[1]);
  tp_all_reduce(tp, L.branch_out[1]);
  be.add(L.x_mid, L.branch_out[1], x_out);
}

void serial_backward(Backend& be, const BlockLayer& L, const Tensor& x_in, const Tensor& rope,
                     const Tensor& d_res, Communicator* tp) {
  // d_res = dloss/dx_out = dloss/dx_mid through the residual, plus the FFN path below.
  zero(be, L.d_h);
  ffn_backward(be, *L.ffn, L.h2, d_res, L.d_h, Tensor());
  tp_all_reduce(tp, L.d_h);
  be.rmsnorm_backward(L.d_h, L.x_mid, L.ffn_norm.value, L.rstd2, d_res, L.ffn_norm.grad);
  zero(be, L.d_h);
  attention_backward(be, *L.attention, L.h, rope, d_res, L.d_h, Tensor());
  tp_all_reduce(tp, L.d_h);
  be.rmsnorm_backward(L.d_h, x_in, L.norm.value, L.rstd, d_res, L.norm.grad);
}

}  // namespace

void block_forward_with(Backend& be, const BlockLayer& L, const Tensor& x_in, const Tensor& x_out,
                        Communicator* tp, const BranchFn& attention, const BranchFn& gss) {
  if (L.kind.serial) return serial_forward(be, L, x_in, x_out, tp, attention);
  be.rmsnorm_forward(x_in, L.norm.value, L.h, L.rstd, L.eps);
  int i = 0;
  if (L.attention) attention(L.h, L.branch_out[i++]);
  if (L.gss) gss(L.h, L.branch_out[i++]);
  if (L.ffn) ffn_forward(be, *L.ffn, L.h, L.branch_out[i++]);
  // The residual enters the sum on one tp rank; the others contribute only their partials.
  if (!tp || tp->rank() == 0)
    be.copy(x_in, x_out);
  else
    zero(be, x_out);
  mixer_forward(be, *L.mixer, L.branch_out, x_out);
  tp_all_reduce(tp, x_out);
}

void block_forward(Backend& be, const BlockLayer& L, const Tensor& x_in, const Tensor& rope,
                   const Tensor& x_out, Communicator* tp) {
  block_forward_with(
      be, L, x_in, x_out, tp,
      [&](const Tensor& h, const Tensor& out) {
        attention_forward(be, *L.attention, h, rope, out);
      },
      [&](const Tensor& h, const Tensor& out) { gss_forward(be, *L.gss, h, out); });
}

void block_recompute(Backend& be, const BlockLayer& L, const Tensor& x_in, const Tensor& rope,
                     Communicator* tp) {
  // The norms' outputs (scratch under every mode) first.
  be.rmsnorm_forward(x_in, L.norm.value, L.h, L.rstd, L.eps);
  const bool none = L.recompute == Recompute::none, full = L.recompute == Recompute::full;
  if (L.kind.serial) {
    if (full) {
      attention_forward(be, *L.attention, L.h, rope, L.branch_out[0]);
      tp_all_reduce(tp, L.branch_out[0]);
      be.add(x_in, L.branch_out[0], L.x_mid);
    } else if (!none) {
      attention_project(be, *L.attention, L.h, rope);
    }
    be.rmsnorm_forward(L.x_mid, L.ffn_norm.value, L.h2, L.rstd2, L.eps);
    if (!none) ffn_hidden(be, *L.ffn, L.h2);
    return;
  }
  if (none) return;
  // Full: each branch again, up to its output (this rank's partial sum, as the mixer read it)
  // when the mixer reads the outputs, else up to what the output projection's backward reads.
  const bool outputs = full && L.mixer->reads_branch_outputs;
  int i = 0;
  if (L.attention) {
    if (outputs)
      attention_forward(be, *L.attention, L.h, rope, L.branch_out[i]);
    else if (full)
      attention_core(be, *L.attention, L.h, rope);
    else
      attention_project(be, *L.attention, L.h, rope);
    ++i;
  }
  if (L.gss) {
    if (outputs) {
      gss_forward(be, *L.gss, L.h, L.branch_out[i]);
    } else {
      if (full)
        gss_state(be, *L.gss, L.h);
      else
        gss_input(be, *L.gss, L.h);
      gss_skip(be, *L.gss);
    }
    ++i;
  }
  if (L.ffn) {
    if (outputs)
      ffn_forward(be, *L.ffn, L.h, L.branch_out[i]);
    else
      ffn_hidden(be, *L.ffn, L.h);
  }
  if (full) mixer_compute_weights(be, *L.mixer);
}

void block_backward(Backend& be, const BlockLayer& L, const Tensor& x_in, const Tensor& rope,
                    const Tensor& d_res, Communicator* tp) {
  block_recompute(be, L, x_in, rope, tp);
  if (L.kind.serial) return serial_backward(be, L, x_in, rope, d_res, tp);
  const MixerLayer& M = *L.mixer;
  mixer_backward(be, M, d_res, L.branch_out);
  // The three branches read the same h: their input gradients sum into d_h.
  zero(be, L.d_h);
  int i = 0;
  if (L.attention) {
    mixer_branch_gradient(be, M, d_res, i, L.d_branch);
    attention_backward(be, *L.attention, L.h, rope, L.d_branch, L.d_h, mixer_branch_dot(M, i));
    ++i;
  }
  if (L.gss) {
    mixer_branch_gradient(be, M, d_res, i, L.d_branch);
    gss_backward(be, *L.gss, L.h, L.d_branch, L.d_h, mixer_branch_dot(M, i), tp);
    ++i;
  }
  if (L.ffn) {
    mixer_branch_gradient(be, M, d_res, i, L.d_branch);
    ffn_backward(be, *L.ffn, L.h, L.d_branch, L.d_h, mixer_branch_dot(M, i));
  }
  mixer_weights_backward(be, M, tp);
  tp_all_reduce(tp, L.d_h);
  be.rmsnorm_backward(L.d_h, x_in, L.norm.value, L.rstd, d_res, L.norm.grad);
}

}  // namespace pha
