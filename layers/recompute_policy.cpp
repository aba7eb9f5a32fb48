// What each recompute mode keeps (docs/model.md, "Recomputation"). One row per activation a block
// names (the name after "layers.<l>."); block_recompute (block.cpp) recomputes exactly the rows a
// mode drops. The selective choices follow the measured cost of recomputing each tensor against
// its bytes (docs/model.md): projections, norms, gates and the FFN hidden layer are cheap per byte
// and recomputed; the attention core (O(T^2)), the FFT convolution, the DSS kernel, the branch
// outputs of the scalar and channel mixers (their weights' gradient reads them; the softmax
// mixer's comes from the output projections' backward and its blocks keep none) and a serial
// block's x_mid (it needs a tensor-parallel all-reduce) are kept. Context parallelism adds no kept
// tensor: ring attention (ring_attention.h) merges into attn.o and attn.lse (kept) from attn.k and
// attn.v (recomputed, then sent around the ring again), the split convolution (context_conv.h)
// reads gss.zn (recomputed, re-sent) and its prefix of gss.kernel (kept) into gss.conv (kept);
// their transfer buffers are scratch. What one elementwise pass rebuilds from a kept tensor (the
// norms' outputs, the GELUs, GSS's gate product), GSS's gate (one projection with K = H of the kept
// y) and a serial block's sub-layer outputs (never read by backward) are scratch under every mode
// and have no row here.
#include <map>

#include "layers/planner.h"

namespace pha {

Recompute parse_recompute(const std::string& name) {
  if (name == "none") return Recompute::none;
  if (name == "selective") return Recompute::selective;
  if (name == "full") return Recompute::full;
  fail("train.recompute = '{}': use none, selective or full", name);
}

const char* recompute_name(Recompute mode) {
  switch (mode) {
    case Recompute::none:
      return "none";
    case Recompute::selective:
      return "selective";
    case Recompute::full:
      return "full";
  }
  return "?";
}

Recompute recomputed_from(const std::string& name) {
  using R = Recompute;
  static const std::map<std::string, Recompute> rules = {
      // The block: the norms' row statistics (pha and serial), the serial block's residual
      // midpoint, the PHA block's branch outputs.
      {"rstd", R::selective},
      {"rstd2", R::selective},
      {"x_mid", R::full},
      {"branch0", R::full},
      {"branch1", R::full},
      {"branch2", R::full},
      {"mixer.w", R::full},
      // Attention: Q, K, V after RoPE are three projections away from h; O and the log-sum-exp
      // come out of the O(T^2) core.
      {"attn.q", R::selective},
      {"attn.k", R::selective},
      {"attn.v", R::selective},
      {"attn.o", R::full},
      {"attn.lse", R::full},
      // GSS: the projections, LayerNorm and gates are recomputed; the FFT convolution's output
      // and the DSS kernel are kept.
      {"gss.u_pre", R::selective},
      {"gss.z_pre", R::selective},
      {"gss.zn", R::selective},
      {"gss.y", R::selective},
      {"gss.ln_mean", R::selective},
      {"gss.ln_rstd", R::selective},
      {"gss.conv", R::full},
      {"gss.kernel", R::full},
      // FFN: the hidden layer's projection.
      {"ffn.pre", R::selective},
  };
  const auto it = rules.find(name);
  PHA_REQUIRE(it != rules.end(),
              "block activation '{}' has no recompute rule: add it to layers/recompute_policy.cpp "
              "and recompute it in block_recompute",
              name);
  return it->second;
}

}  // namespace pha
