#pragma once
// One block. pha: h = RMSNorm(x); x_out = x + mix(Attention(h), GSS(h), FFN(h)) over the active
// branches. serial: the pre-norm Transformer x_mid = x + Attn(RMSNorm(x)),
// x_out = x_mid + FFN(RMSNorm(x_mid)).
#include <functional>
#include <optional>

#include "layers/attention.h"
#include "layers/ffn.h"
#include "layers/gss.h"
#include "layers/mixer.h"

namespace pha {

struct BlockLayer {
  BlockKind kind;
  Param norm, ffn_norm;     // pha: norm; serial: attn_norm (in norm) and ffn_norm
  Tensor h, rstd;           // scratch [B, T, d] (rebuilt by backward), act [B*T]
  Tensor h2, rstd2, x_mid;  // serial only: scratch, act, act
  std::optional<AttentionLayer> attention;
  std::optional<GssLayer> gss;
  std::optional<FfnLayer> ffn;
  std::optional<MixerLayer> mixer;  // pha only
  Tensor branch_out[3];  // [B, T, d], attention, gss, ffn: acts for the scalar and channel
                         // mixers, scratch for softmax (and serial)
  Tensor d_h, d_branch;  // scratch [B, T, d] (d_branch: each branch's in turn)
  int n_branches = 0;
  double eps = 1e-5;
  Recompute recompute = Recompute::none;  // what block_recompute refills before backward
};

BlockLayer make_block(Planner& plan, int64_t layer, const LayerShape& s);
// x_out = block(x_in). rope: the RoPE table. tp: the tensor-parallel group (nullptr: one rank).
// A PHA block mixes its partial branch outputs and reduces them with ONE all-reduce of
// [B, T, d]; a serial block needs two (after attention and after the FFN).
void block_forward(Backend& be, const BlockLayer& L, const Tensor& x_in, const Tensor& rope,
                   const Tensor& x_out, Communicator* tp);
// block_forward with the sequence mixers supplied by the caller (the incremental decoder steps
// them one token at a time): attention(h, out) and gss(h, out) write the branch output `out` from
// the normed input `h`; each is called only when the block has that branch.
using BranchFn = std::function<void(const Tensor& h, const Tensor& out)>;
void block_forward_with(Backend& be, const BlockLayer& L, const Tensor& x_in, const Tensor& x_out,
                        Communicator* tp, const BranchFn& attention, const BranchFn& gss);
// Recomputes from x_in the norms' outputs (scratch under every mode) and the activations the
// block's recompute mode dropped (recomputed_from), bit-identical to the forward's: selective
// runs the Q/K/V projections with RoPE, GSS's input path and gates and the FFN hidden layer; full
// runs the whole forward but the residual sum and, under the softmax mixer, the output
// projections (a serial block all-reduces its attention output again for x_mid; a PHA block's
// recomputation needs no communication). Under none only the norms.
void block_recompute(Backend& be, const BlockLayer& L, const Tensor& x_in, const Tensor& rope,
                     Communicator* tp);
// On entry d_res holds dloss/dx_out; on return dloss/dx_in. Parameter gradients +=. A PHA block
// reduces the mixing weights' gradient (n or n x d floats; under the softmax mixer summed from
// the branches' output projections, mixer.h), GSS's [B, T, H] state gradient and ONE [B, T, d]
// input gradient. Starts with block_recompute.
void block_backward(Backend& be, const BlockLayer& L, const Tensor& x_in, const Tensor& rope,
                    const Tensor& d_res, Communicator* tp);

}  // namespace pha
