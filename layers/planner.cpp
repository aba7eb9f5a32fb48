#include "layers/planner.h"

#include <algorithm>

namespace pha {

int64_t ParamSpec::global_index(int64_t i) const {
  switch (split) {
    case TpSplit::replicated:
      return i;
    case TpSplit::rows:
      return offset * (global_shape.numel() / global_shape[0]) + i;
    case TpSplit::cols: {
      const int64_t cols = shape[1], row = i / cols, col = i % cols;
      return row * global_shape[1] + offset + col;
    }
  }
  return i;
}

Planner::Planner(Precision precision, TpPosition tp, const Arena& params, const Arena& grads,
                 const Arena& compute, const Arena& acts, const Arena& scratch, Recompute recompute,
                 const Arena* recomputed)
    : precision_(precision),
      tp_(tp),
      recompute_(recompute),
      params_(&params),
      grads_(&grads),
      compute_(&compute),
      acts_(&acts),
      scratch_(&scratch),
      recomputed_(recomputed) {
  PHA_REQUIRE(recompute == Recompute::none || recomputed != nullptr,
              "binding with recompute = {} needs the recompute buffer's arena",
              recompute_name(recompute));
}

Tensor Planner::bound(const Arena& arena, const std::string& name, const Shape& shape) const {
  const Tensor& t = arena.get(name);
  PHA_REQUIRE(t.shape == shape, "arena '{}': '{}' was planned as {} but is bound as {}",
              arena.label(), name, t.shape.str(), shape.str());
  return t;
}

Param Planner::param(const std::string& name, Shape shape, InitKind init, double stddev,
                     ParamGroup group, TpSplit split) {
  Shape local = shape;
  int64_t offset = 0;
  if (split != TpSplit::replicated) {
    const int dim = split == TpSplit::rows ? 0 : 1;
    PHA_REQUIRE(shape.rank > dim && shape[dim] % tp_.size == 0,
                "parameter '{}' {}: dim {} is not divisible by tp = {}", name, shape.str(), dim,
                tp_.size);
    local.dims[static_cast<size_t>(dim)] = shape[dim] / tp_.size;
    offset = local[dim] * tp_.rank;
  }
  // Matmul weights (the 2-D weights of the decay group) are read by matmuls in the activations'
  // type: under mixed precision they get a compute copy.
  const bool copied = precision_.compute_copies() && group == ParamGroup::decay && shape.rank == 2;
  if (binding()) {
    // Sharded masters (ZeRO with compute copies: Model::compute_in_chunks) keep a matmul weight's
    // master only in the rank's chunk: `value` stays empty and the layers read the copy.
    const bool sharded = copied && !params_->contains(name);
    Param p{sharded ? Tensor{} : bound(*params_, name, local), bound(*grads_, name, local), {}};
    p.compute = copied ? bound(*compute_, name, local) : p.value;
    return p;
  }
  param_table_.add(name, local, precision_.param);
  if (copied) compute_table_.add(name, local, precision_.act);
  param_specs_.push_back(ParamSpec{name, local, shape, split, offset, init, stddev, group});
  return {};
}

Tensor Planner::act(const std::string& name, Shape shape, DType dtype) {
  if (recompute_ != Recompute::none && name.rfind("layers.", 0) == 0) {
    // "layers.<l>.attn.q" -> "attn.q"
    const size_t dot = name.find('.', 7);
    PHA_REQUIRE(dot != std::string::npos, "activation '{}' has no name inside its block", name);
    const std::string local = name.substr(dot + 1);
    if (recompute_ >= recomputed_from(local))
      return shared(recompute_table_, recomputed_, "recompute buffer", local, shape, dtype);
  }
  if (binding()) return bound(*acts_, name, shape);
  act_table_.add(name, shape, dtype);
  return {};
}

Tensor Planner::scratch(const std::string& name, Shape shape, DType dtype) {
  return shared(scratch_table_, scratch_, "scratch", name, shape, dtype);
}

Tensor Planner::shared(SizeTable& table, const Arena* arena, const std::string& what,
                       const std::string& name, const Shape& shape, DType dtype) {
  if (binding()) return bound(*arena, name, shape);
  const auto& entries = table.entries();
  auto it = std::find_if(entries.begin(), entries.end(),
                         [&](const TensorSpec& e) { return e.name == name; });
  if (it == entries.end()) {
    table.add(name, shape, dtype);
  } else {
    PHA_REQUIRE(it->shape == shape && it->dtype == dtype, "{} '{}' is asked for as {} and as {}",
                what, name, it->shape.str(), shape.str());
  }
  return {};
}

}  // namespace pha
