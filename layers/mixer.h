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
  // scalar and channel: the weights' gradient reads the kept branch outputs. softmax: each
  // branch's output projection backward adds <d o_i, o_i> = w_i <dout, branch_i> into d_w[i]
  // (mixer_branch_dot), so the block keeps no branch outputs (docs/model.md).
  bool reads_branch_outputs = true;
};

MixerLayer make_mixer(Planner& plan, const std::string& prefix, const LayerShape& s, int n);
// The weights w from alpha (the first half of mixer_forward; recomputation).
void mixer_compute_weights(Backend& be, const MixerLayer& M);
// out += sum_i w_i * branches[i]
void mixer_forward(Backend& be, const MixerLayer& M, const Tensor* branches, const Tensor& out);
// d_w from zero: <dout, branches[i]> summed here when the mixer reads the branch outputs, else
// left to the branches (mixer_branch_dot; branches may be null).
void mixer_backward(Backend& be, const MixerLayer& M, const Tensor& dout, const Tensor* branches);
// dbranch = w_i * dout: branch i's output gradient (the branches' backwards run one after the
// other, so one buffer serves them all).
void mixer_branch_gradient(Backend& be, const MixerLayer& M, const Tensor& dout, int i,
                           const Tensor& dbranch);
// Where branch i's backward adds <d o_i, o_i> (a [1, 1] view of d_w), or an empty tensor when the
// mixer reads the branch outputs itself.
Tensor mixer_branch_dot(const MixerLayer& M, int i);
// alpha.grad += J^T d_w once the branches' backward is done. Under tensor parallelism the branch
// outputs (and the dots) are partial sums, so d_w (n or n x d floats) is summed over `tp` first.
void mixer_weights_backward(Backend& be, const MixerLayer& M, Communicator* tp);
// The current weights w as host floats, [n] or [n * d] (for logs and plots).
std::vector<float> mixer_weights(Backend& be, const MixerLayer& M);

}  // namespace pha
