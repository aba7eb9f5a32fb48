#include "layers/mixer.h"

namespace pha {

MixerLayer make_mixer(Planner& plan, const std::string& prefix, const LayerShape& s, int n) {
  const ModelConfig& c = s.cfg;
  MixerLayer M;
  M.n = n;
  M.normalize = c.mixer != MixerKind::scalar;
  M.reads_branch_outputs = c.mixer != MixerKind::softmax;
  const int64_t C = c.mixer == MixerKind::channel ? c.d : 1;
  const Shape shape = C == 1 ? Shape{n} : Shape{n, C};
  M.alpha = plan.param(prefix + "alpha", shape,
                       c.mixer == MixerKind::scalar ? InitKind::ones : InitKind::zeros, 0,
                       ParamGroup::no_decay);
  // The mixing weights follow alpha's type (f32 under bf16 activations).
  M.w = plan.act(prefix + "w", {n, C}, plan.precision().param);
  M.d_w = plan.scratch("mixer.d_w." + std::to_string(n) + "x" + std::to_string(C), {n, C},
                       plan.precision().param);
  return M;
}

namespace {
Tensor as_matrix(const Tensor& alpha, int n) {
  return alpha.view({n, alpha.numel() / n});
}
}  // namespace

void mixer_compute_weights(Backend& be, const MixerLayer& M) {
  be.mixer_weights_forward(as_matrix(M.alpha.value, M.n), M.w, M.normalize);
}

void mixer_forward(Backend& be, const MixerLayer& M, const Tensor* branches, const Tensor& out) {
  mixer_compute_weights(be, M);
  be.mixer_forward(branches, M.n, M.w, out);
}

void mixer_backward(Backend& be, const MixerLayer& M, const Tensor& dout, const Tensor* branches) {
  zero(be, M.d_w);
  if (M.reads_branch_outputs) be.mixer_backward(dout, branches, M.n, M.w, nullptr, M.d_w);
}

void mixer_branch_gradient(Backend& be, const MixerLayer& M, const Tensor& dout, int i,
                           const Tensor& dbranch) {
  std::vector<Tensor> dbranches(static_cast<size_t>(M.n));  // only branch i's wanted
  dbranches[static_cast<size_t>(i)] = dbranch;
  zero(be, dbranch);
  be.mixer_backward(dout, nullptr, M.n, M.w, dbranches.data(), Tensor());
}

Tensor mixer_branch_dot(const MixerLayer& M, int i) {
  return M.reads_branch_outputs ? Tensor() : M.d_w.slice0(i, 1);
}

void mixer_weights_backward(Backend& be, const MixerLayer& M, Communicator* tp) {
  tp_all_reduce(tp, M.d_w);
  be.mixer_weights_backward(M.w, M.d_w, as_matrix(M.alpha.grad, M.n), M.normalize,
                            !M.reads_branch_outputs);
}

std::vector<float> mixer_weights(Backend& be, const MixerLayer& M) {
  std::vector<float> w(static_cast<size_t>(M.w.numel()));
  be.copy_to_host(M.w, w.data());
  return w;
}

}  // namespace pha
