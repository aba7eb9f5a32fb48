#pragma once
// The GSS branch (Gated State Spaces, Pseudocode 3.2, without its own outer norm and residual):
//   u = GELU(h Wu^T), z = GELU(h Wz^T), zn = LayerNorm(z), K = DSS kernel(T),
//   c = causal_conv(zn, K), y = c + D * zn, s = ((y Wg^T) * u) Wo^T.
#include <optional>

#include "layers/context_conv.h"
#include "layers/layer_common.h"

namespace pha {

struct GssLayer {
  Param wu, wz, wg, wo;          // [F, d], [H, d], [F, H], [d, F]
  Param norm_weight, norm_bias;  // [H]
  Param lambda_re, lambda_im;    // [N]
  Param c_re, c_im;              // [H, N]
  Param skip;                    // D: [H]
  Tensor u_pre;                  // act [B, T, F]: h Wu^T
  Tensor z_pre, zn, conv, y;     // acts [B, T, H]
  // Scratch rebuilt by backward from u_pre, y and z_pre instead of keeping 3F + H floats per row:
  // gate = y Wg^T (one projection with K = H: 2 H F FLOPs per row), u = GELU(u_pre),
  // gated = gate * u [B, T, F]; z = GELU(z_pre) [B, T, H].
  Tensor gate, u, gated, z;
  Tensor ln_mean, ln_rstd;        // acts [B*T]
  Tensor kernel;                  // act [T, H] (T: the whole sequence's length)
  Tensor d_gated, d_gate, d_u;    // scratch [B, T, F]
  Tensor d_y, d_zn, d_conv, d_z;  // scratch [B, T, H]
  Tensor d_kernel;                // scratch [T, H]
  ConvAlgo conv_algo = ConvAlgo::fft;
  std::optional<ContextConv> context;  // context parallelism: the block-Toeplitz convolution
  double eps = 1e-5;
};

GssLayer make_gss(Planner& plan, const std::string& prefix, const LayerShape& s);
void gss_forward(Backend& be, const GssLayer& L, const Tensor& h, const Tensor& out);
// gss_forward up to the convolution's output L.conv (recomputation when the mixer needs no branch
// output; backward rebuilds the gate path itself).
void gss_state(Backend& be, const GssLayer& L, const Tensor& h);
// The parts around the convolution (the incremental decoder supplies its own middle):
// gss_input: u_pre = h Wu^T, zn = LayerNorm(GELU(h Wz^T)); gss_output: from L.conv,
// y = conv + D zn and out = ((y Wg^T) * GELU(u_pre)) Wo^T.
void gss_input(Backend& be, const GssLayer& L, const Tensor& h);
void gss_output(Backend& be, const GssLayer& L, const Tensor& out);
// The first part of gss_output, what backward reads besides its scratch: y = conv + D zn
// (recomputation).
void gss_skip(Backend& be, const GssLayer& L);
// Under tensor parallelism `out` is this rank's partial sum and `dh` receives this rank's partial
// input gradient; `tp` reduces the state path's gradient (nullptr: one rank). mixer_dot (may be
// empty): += <d gated, gated>, the softmax mixer's share of this branch (mixer.h).
void gss_backward(Backend& be, const GssLayer& L, const Tensor& h, const Tensor& dout,
                  const Tensor& dh, const Tensor& mixer_dot, Communicator* tp);

}  // namespace pha
