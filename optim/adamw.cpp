#include "optim/adamw.h"

#include <algorithm>
#include <cmath>

#include "core/backend.h"
#include "optim/cpu_kernels.h"
#include "optim/cuda_kernels.h"

namespace pha {

namespace {

// A moment of the owned elements: the parameter's shape when they are all of it, else flat.
Shape moment_shape(const TensorSpec& e, ElementRange owned) {
  return owned.size() == e.shape.numel() ? e.shape : Shape{owned.size()};
}

SizeTable state_table(const SizeTable& param_table, const std::vector<ElementRange>& owned) {
  PHA_REQUIRE(owned.size() == param_table.size(),
              "AdamW: {} owned ranges for {} parameters; pass one per parameter", owned.size(),
              param_table.size());
  SizeTable table;
  for (size_t i = 0; i < param_table.size(); ++i) {
    const TensorSpec& e = param_table.entries()[i];
    PHA_REQUIRE(e.dtype == DType::f32 || e.dtype == DType::f64,
                "AdamW: parameter '{}' is {}; the optimiser updates f32 or f64 parameters", e.name,
                dtype_name(e.dtype));
    PHA_REQUIRE(
        0 <= owned[i].begin && owned[i].begin <= owned[i].end && owned[i].end <= e.shape.numel(),
        "AdamW: owned range [{}, {}) is outside '{}' ({} elements)", owned[i].begin, owned[i].end,
        e.name, e.shape.numel());
    table.add(AdamW::exp_avg_name(e.name), moment_shape(e, owned[i]), e.dtype);
  }
  for (size_t i = 0; i < param_table.size(); ++i) {
    const TensorSpec& e = param_table.entries()[i];
    table.add(AdamW::exp_avg_sq_name(e.name), moment_shape(e, owned[i]), e.dtype);
  }
  return table;
}

void require_lr(double lr) {
  PHA_REQUIRE(std::isfinite(lr) && lr >= 0.0, "AdamW: learning rate {} must be finite and >= 0",
              lr);
}

}  // namespace

void AdamWConfig::validate() const {
  require_lr(lr);
  PHA_REQUIRE(beta1 >= 0.0 && beta1 < 1.0, "AdamW: beta1 = {} must be in [0, 1)", beta1);
  PHA_REQUIRE(beta2 >= 0.0 && beta2 < 1.0, "AdamW: beta2 = {} must be in [0, 1)", beta2);
  PHA_REQUIRE(std::isfinite(eps) && eps > 0.0, "AdamW: eps = {} must be > 0", eps);
  PHA_REQUIRE(std::isfinite(weight_decay) && weight_decay >= 0.0,
              "AdamW: weight_decay = {} must be >= 0", weight_decay);
  PHA_REQUIRE(std::isfinite(dss_lr_cap) && dss_lr_cap > 0.0, "AdamW: dss_lr_cap = {} must be > 0",
              dss_lr_cap);
}

AdamW::AdamW(Backend& backend, const SizeTable& param_table, const AdamWConfig& config,
             std::vector<ElementRange> owned)
    : backend_(&backend),
      config_(config),
      param_table_(param_table),
      owned_(owned.empty() ? full_ranges(param_table) : std::move(owned)) {
  config_.validate();
  state_ = Arena(backend, state_table(param_table_, owned_), "optimiser state");
}

size_t AdamW::state_bytes(const SizeTable& param_table, const std::vector<ElementRange>& owned) {
  return state_table(param_table, owned.empty() ? full_ranges(param_table) : owned).total_bytes();
}

void AdamW::load_moment(bool squared, const std::string& param_name,
                        const std::vector<float>& whole) {
  const Tensor& target = squared ? exp_avg_sq(param_name) : exp_avg(param_name);
  const auto& entries = state_.table().entries();
  const size_t i = static_cast<size_t>(
      std::find_if(entries.begin(), entries.end(),
                   [&](const TensorSpec& e) { return e.name == exp_avg_name(param_name); }) -
      entries.begin());
  const ElementRange r = owned_[i];
  PHA_REQUIRE(static_cast<int64_t>(whole.size()) == param_table_.entries()[i].shape.numel(),
              "AdamW: {} values for '{}' ({} elements)", whole.size(), param_name,
              param_table_.entries()[i].shape.numel());
  Backend& be = *backend_;
  if (target.dtype == DType::f32) {
    be.copy_from_host(target, whole.data() + r.begin);
  } else {
    const std::vector<double> d(whole.begin() + r.begin, whole.begin() + r.end);
    be.copy_from_host(target, d.data());
  }
}

void AdamW::set_lr(double lr) {
  require_lr(lr);
  config_.lr = lr;
}

double AdamW::group_lr(ParamGroup group) const {
  return group == ParamGroup::dss ? std::min(config_.dss_lr_cap, config_.lr) : config_.lr;
}

double AdamW::group_weight_decay(ParamGroup group) const {
  return group == ParamGroup::decay ? config_.weight_decay : 0.0;
}

std::string AdamW::exp_avg_name(const std::string& param_name) {
  return "/optim/exp_avg/" + param_name;
}

std::string AdamW::exp_avg_sq_name(const std::string& param_name) {
  return "/optim/exp_avg_sq/" + param_name;
}

const Tensor& AdamW::exp_avg(const std::string& param_name) const {
  return state_.get(exp_avg_name(param_name));
}

const Tensor& AdamW::exp_avg_sq(const std::string& param_name) const {
  return state_.get(exp_avg_sq_name(param_name));
}

void AdamW::require_matches(const char* what, const Arena& arena) const {
  const auto& mine = param_table_.entries();
  const auto& theirs = arena.table().entries();
  PHA_REQUIRE(theirs.size() == mine.size(),
              "AdamW: the {} arena holds {} tensors but the optimiser was made for {}", what,
              theirs.size(), mine.size());
  for (size_t i = 0; i < mine.size(); ++i)
    PHA_REQUIRE(theirs[i].name == mine[i].name && theirs[i].shape == mine[i].shape &&
                    theirs[i].dtype == mine[i].dtype,
                "AdamW: {} tensor {} is '{}' {}{}, but the optimiser was made for '{}' {}{}", what,
                i, theirs[i].name, dtype_name(theirs[i].dtype), theirs[i].shape.str(), mine[i].name,
                dtype_name(mine[i].dtype), mine[i].shape.str());
}

void AdamW::step(const Arena& params, const Arena& grads, const std::vector<ParamSpec>& specs,
                 int64_t step_number) {
  require_matches("gradient", grads);
  step(params, range_views(grads, owned_), specs, step_number);
}

void AdamW::step(const Arena& params, const std::vector<Tensor>& owned_grads,
                 const std::vector<ParamSpec>& specs, int64_t step_number) {
  require_matches("parameter", params);
  step(range_views(params, owned_), owned_grads, specs, step_number);
}

void AdamW::step(const std::vector<Tensor>& owned_params, const std::vector<Tensor>& owned_grads,
                 const std::vector<ParamSpec>& specs, int64_t step_number) {
  PHA_REQUIRE(step_number >= 1, "AdamW: step number {} must be >= 1 (steps count from 1)",
              step_number);
  const size_t n = param_table_.size();
  PHA_REQUIRE(specs.size() == n, "AdamW: {} parameter specs for {} parameters", specs.size(), n);
  PHA_REQUIRE(owned_params.size() == n && owned_grads.size() == n,
              "AdamW: {} parameters and {} gradients for {} parameters", owned_params.size(),
              owned_grads.size(), n);
  for (size_t i = 0; i < n; ++i)
    PHA_REQUIRE(specs[i].name == param_table_.entries()[i].name,
                "AdamW: parameter spec {} is '{}' but parameter {} is '{}'", i, specs[i].name, i,
                param_table_.entries()[i].name);

  const double t = static_cast<double>(step_number);
  AdamWScalars<double> scalars{0.0,
                               config_.beta1,
                               config_.beta2,
                               config_.eps,
                               0.0,
                               1.0 - std::pow(config_.beta1, t),
                               1.0 - std::pow(config_.beta2, t)};
  // Every check before the first update, so a refused step changes nothing.
  for (size_t i = 0; i < n; ++i) {
    if (owned_[i].size() == 0) continue;
    const Tensor &p = owned_params[i], &g = owned_grads[i];
    const DType dtype = param_table_.entries()[i].dtype;
    PHA_REQUIRE(p.numel() == owned_[i].size() && g.numel() == owned_[i].size() &&
                    p.dtype == dtype && g.dtype == dtype,
                "AdamW: '{}' and its gradient hold {} {} and {} {} elements; it owns {} {}",
                specs[i].name, p.numel(), dtype_name(p.dtype), g.numel(), dtype_name(g.dtype),
                owned_[i].size(), dtype_name(dtype));
    PHA_REQUIRE(g.device == p.device && state_[i].device == p.device,
                "AdamW: '{}' is on {} but its gradient on {} and its moments on {}; all three "
                "must be on one device",
                specs[i].name, device_name(p.device), device_name(g.device),
                device_name(state_[i].device));
  }
  for (size_t i = 0; i < n; ++i) {
    const ElementRange r = owned_[i];
    if (r.size() == 0) continue;
    scalars.lr = group_lr(specs[i].group);
    scalars.weight_decay = group_weight_decay(specs[i].group);
    // The owned elements of the parameter, flat like their moments and gradient.
    const Tensor param = owned_params[i].view({r.size()}), grad = owned_grads[i].view({r.size()});
    const Tensor m = state_[i].view({r.size()}), v = state_[n + i].view({r.size()});
    const ElementRange all{0, r.size()};
    if (param.device == Device::cuda)
      adamw_cuda(param, grad, m, v, all, scalars);
    else
      adamw_cpu(param, grad, m, v, all, scalars);
  }
}

}  // namespace pha
