#pragma once
// The mixer: learned, static, per-layer weights that fuse the branch outputs.
//   softmax: w = softmax(alpha), alpha [n] init 0;  scalar: w = alpha, init 1;
//   channel: alpha [n, d], w = softmax over the n branches per channel.
#include <vector>

#include "layers/layer_common.h"

namespace pha {

struct MixerLayer {
  Param alpha;  // [n, 1] or [n, d] (stored as the spec's [n] or [n, d])
  Tensor w;     // act [n, C]
  Tensor d_w;   // scratch [n, C]
  int n = 0;
  bool normalize = true;
};

MixerLayer make_mixer(Planner& plan, const std::string& prefix, const LayerShape& s, int n);
// The weights w from alpha (the first half of mixer_forward; recomputation).
void mixer_compute_weights(Backend& be, const MixerLayer& M);
// out += sum_i w_i * branches[i]
void mixer_forward(Backend& be, const MixerLayer& M, const Tensor* branches, const Tensor& out);
// dbranches[i] += w_i * dout; alpha.grad +=. Under tensor parallelism the branches are partial
// sums, so the weights' gradient is summed over `tp` (n or n x d floats) before alpha's.
void mixer_backward(Backend& be, const MixerLayer& M, const Tensor& dout, const Tensor* branches,
                    const Tensor* dbranches, Communicator* tp);
// The current weights w as host floats, [n] or [n * d] (for logs and plots).
std::vector<float> mixer_weights(Backend& be, const MixerLayer& M);

}  // namespace pha
