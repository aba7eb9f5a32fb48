#include "layers/gss.h"

namespace pha {

GssLayer make_gss(Planner& plan, const std::string& prefix, const LayerShape& s) {
  const ModelConfig& c = s.cfg;
  // Wu and Wg split by rows (F/tp), Wo by columns; the small state path (Wz, the LayerNorm, the
  // DSS kernel, D) is replicated on every tp rank (parallel.md).
  const int64_t B = s.batch, T = s.seq_len, F = s.local(c.gss_f), H = c.gss_h, N = c.dss_n;
  const int64_t F_global = c.gss_f;
  const bool s4d = c.dss_init == DssInit::s4d;
  GssLayer L;
  L.wu = plan.param(prefix + "wu", {F_global, c.d}, InitKind::normal, 0.02, ParamGroup::decay,
                    TpSplit::rows);
  L.wz = plan.param(prefix + "wz", {H, c.d}, InitKind::normal, 0.02, ParamGroup::decay);
  L.wg = plan.param(prefix + "wg", {F_global, H}, InitKind::normal, 0.02, ParamGroup::decay,
                    TpSplit::rows);
  L.wo = plan.param(prefix + "wo", {c.d, F_global}, InitKind::normal, output_proj_stddev(c),
                    ParamGroup::decay, TpSplit::cols);
  L.norm_weight = plan.param(prefix + "norm.weight", {H}, InitKind::ones, 0, ParamGroup::no_decay);
  L.norm_bias = plan.param(prefix + "norm.bias", {H}, InitKind::zeros, 0, ParamGroup::no_decay);
  L.lambda_re = plan.param(prefix + "lambda_re", {N},
                           s4d ? InitKind::s4d_lambda_re : InitKind::normal, 1.0, ParamGroup::dss);
  L.lambda_im = plan.param(prefix + "lambda_im", {N},
                           s4d ? InitKind::s4d_lambda_im : InitKind::normal, 1.0, ParamGroup::dss);
  // s4d: C complex normal of variance 1, so each part has variance 1/2.
  const double c_std = s4d ? std::sqrt(0.5) : 1.0;
  L.c_re = plan.param(prefix + "c_re", {H, N}, InitKind::normal, c_std, ParamGroup::dss);
  L.c_im = plan.param(prefix + "c_im", {H, N}, InitKind::normal, c_std, ParamGroup::dss);
  L.skip = plan.param(prefix + "d", {H}, InitKind::normal, 1.0, ParamGroup::no_decay);

  L.u_pre = plan.act(prefix + "u_pre", {B, T, F});
  L.z_pre = plan.act(prefix + "z_pre", {B, T, H});
  L.zn = plan.act(prefix + "zn", {B, T, H});
  L.conv = plan.act(prefix + "conv", {B, T, H});
  L.y = plan.act(prefix + "y", {B, T, H});
  L.ln_mean = plan.stat(prefix + "ln_mean", {B * T});
  L.ln_rstd = plan.stat(prefix + "ln_rstd", {B * T});
  // The DSS kernel is generated from f32 parameters and convolved in f32: kept in that type.
  L.kernel = plan.act(prefix + "kernel", {s.global_seq_len(), H}, plan.precision().param);

  L.gate = plan.scratch("gss.gate", {B, T, F});
  L.u = plan.scratch("gss.u", {B, T, F});
  L.gated = plan.scratch("gss.gated", {B, T, F});
  L.z = plan.scratch("gss.z", {B, T, H});
  L.d_gated = plan.scratch("gss.d_gated", {B, T, F});
  L.d_gate = plan.scratch("gss.d_gate", {B, T, F});
  L.d_u = plan.scratch("gss.d_u", {B, T, F});
  L.d_y = plan.scratch("gss.d_y", {B, T, H});
  L.d_zn = plan.scratch("gss.d_zn", {B, T, H});
  L.d_conv = plan.scratch("gss.d_conv", {B, T, H});
  L.d_z = plan.scratch("gss.d_z", {B, T, H});
  L.d_kernel = plan.scratch("gss.d_kernel", {s.global_seq_len(), H}, plan.precision().param);
  L.conv_algo = c.conv_algo;
  if (s.cp.size > 1) L.context = make_context_conv(plan, s, H);
  L.eps = c.norm_eps;
  return L;
}

void gss_input(Backend& be, const GssLayer& L, const Tensor& h) {
  be.linear_forward(h, L.wu.compute, L.u_pre);
  be.linear_forward(h, L.wz.compute, L.z_pre);
  be.gelu_forward(L.z_pre, L.z);
  be.layernorm_forward(L.z, L.norm_weight.value, L.norm_bias.value, L.zn, L.ln_mean, L.ln_rstd,
                       L.eps);
}

void gss_skip(Backend& be, const GssLayer& L) {
  be.channel_fma_forward(L.zn, L.skip.value, L.conv, L.y);
}

namespace {
// The scratch that gss_backward reads and rebuilds itself: gate = y Wg^T, u = GELU(u_pre),
// gated = gate * u.
void gss_gated(Backend& be, const GssLayer& L) {
  be.linear_forward(L.y, L.wg.compute, L.gate);
  be.gelu_forward(L.u_pre, L.u);
  be.mul(L.gate, L.u, L.gated);
}
}  // namespace

void gss_output(Backend& be, const GssLayer& L, const Tensor& out) {
  gss_skip(be, L);
  gss_gated(be, L);
  be.linear_forward(L.gated, L.wo.compute, out);
}

namespace {
// The kernel positions this rank reads: all of them, or under context parallelism the prefix its
// block-Toeplitz products need (it generates no more).
Tensor used_kernel(const GssLayer& L, const Tensor& kernel) {
  return L.context ? kernel.slice0(0, context_kernel_len(*L.context)) : kernel;
}
}  // namespace

void gss_state(Backend& be, const GssLayer& L, const Tensor& h) {
  gss_input(be, L, h);
  be.dss_kernel_forward(L.lambda_re.value, L.lambda_im.value, L.c_re.value, L.c_im.value,
                        used_kernel(L, L.kernel));
  if (L.context)
    context_conv_forward(be, *L.context, L.zn, L.kernel, L.conv, L.conv_algo);
  else
    be.causal_conv_forward(L.zn, L.kernel, L.conv, L.conv_algo);
}

void gss_forward(Backend& be, const GssLayer& L, const Tensor& h, const Tensor& out) {
  gss_state(be, L, h);
  gss_output(be, L, out);
}

void gss_backward(Backend& be, const GssLayer& L, const Tensor& h, const Tensor& dout,
                  const Tensor& dh, const Tensor& mixer_dot, Communicator* tp) {
  gss_gated(be, L);
  be.gelu_forward(L.z_pre, L.z);
  // The accumulating ops' outputs start at zero; d_gated and d_y are written by their GEMMs.
  for (const Tensor* t : {&L.d_gate, &L.d_u, &L.d_zn, &L.d_conv, &L.d_z, &L.d_kernel}) zero(be, *t);
  be.linear_backward(dout, L.gated, L.wo.compute, L.d_gated, L.wo.grad, 0.0);
  if (!mixer_dot.empty()) be.dot_accumulate(L.d_gated, L.gated, mixer_dot);
  be.mul_backward(L.d_gated, L.gate, L.u, L.d_gate, L.d_u);
  be.linear_backward(L.d_gate, L.y, L.wg.compute, L.d_y, L.wg.grad, 0.0);
  // d_y is a partial sum over this rank's F/tp gates; the replicated state path needs all of it.
  tp_all_reduce(tp, L.d_y);
  be.channel_fma_backward(L.d_y, L.zn, L.skip.value, L.d_zn, L.skip.grad, L.d_conv);
  if (L.context)
    context_conv_backward(be, *L.context, L.d_conv, L.zn, L.kernel, L.d_zn, L.d_kernel,
                          L.conv_algo);
  else
    be.causal_conv_backward(L.d_conv, L.zn, L.kernel, L.d_zn, L.d_kernel, L.conv_algo);
  be.dss_kernel_backward(used_kernel(L, L.d_kernel), L.lambda_re.value, L.lambda_im.value,
                         L.c_re.value, L.c_im.value, L.lambda_re.grad, L.lambda_im.grad,
                         L.c_re.grad, L.c_im.grad);
  be.layernorm_backward(L.d_zn, L.z, L.norm_weight.value, L.ln_mean, L.ln_rstd, L.d_z,
                        L.norm_weight.grad, L.norm_bias.grad);
  // The gradients before the GELUs reuse free buffers: d_gated (F wide) and d_zn (H wide).
  zero(be, L.d_gated);
  be.gelu_backward(L.u_pre, L.d_u, L.d_gated);
  be.linear_backward(L.d_gated, h, L.wu.compute, dh, L.wu.grad);
  zero(be, L.d_zn);
  be.gelu_backward(L.z_pre, L.d_z, L.d_zn);
  // Every tp rank computes the same state-path input gradient: one rank adds it, so the block's
  // all-reduce of dh counts it once.
  const bool state_path_owner = !tp || tp->rank() == 0;
  be.linear_backward(L.d_zn, h, L.wz.compute, state_path_owner ? dh : Tensor(), L.wz.grad);
}

}  // namespace pha
