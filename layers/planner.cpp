#include "layers/planner.h"

#include <algorithm>

namespace pha {

Planner::Planner(DType real, const Arena& params, const Arena& grads, const Arena& acts,
                 const Arena& scratch)
    : real_(real),
      params_(&params), grads_(&grads), acts_(&acts), scratch_(&scratch) {}

Tensor Planner::bound(const Arena& arena, const std::string& name, const Shape& shape) const {
  const Tensor& t = arena.get(name);
  PHA_REQUIRE(t.shape == shape, "arena '{}': '{}' was planned as {} but is bound as {}",
              arena.label(), name, t.shape.str(), shape.str());
  return t;
}

Param Planner::param(const std::string& name, Shape shape, InitKind init, double stddev,
                     ParamGroup group) {
  if (binding()) return Param{bound(*params_, name, shape), bound(*grads_, name, shape)};
  param_table_.add(name, shape, real_);
  param_specs_.push_back(ParamSpec{name, shape, init, stddev, group});
  return {};
}

Tensor Planner::act(const std::string& name, Shape shape, DType dtype) {
  if (binding()) return bound(*acts_, name, shape);
  act_table_.add(name, shape, dtype);
  return {};
}

Tensor Planner::scratch(const std::string& name, Shape shape) {
  const DType dtype = real_;
  if (binding()) return bound(*scratch_, name, shape);
  const auto& entries = scratch_table_.entries();
  auto it = std::find_if(entries.begin(), entries.end(),
                         [&](const TensorSpec& e) { return e.name == name; });
  if (it == entries.end()) {
    scratch_table_.add(name, shape, dtype);
  } else {
    PHA_REQUIRE(it->shape == shape && it->dtype == dtype,
                "scratch '{}' is asked for as {} and as {}", name, it->shape.str(), shape.str());
  }
  return {};
}

}  // namespace pha
