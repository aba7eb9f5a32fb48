#pragma once
// AdamW over the model's parameter arena, with the optimiser groups of model.md: the decay group
// gets weight decay; no_decay none; the dss group (lambda_*, C_*) none and the learning rate
// min(dss_lr_cap, lr). The moments live in one arena, each moment in its parameter's dtype (f32
// model: f32 state; f64 model: f64 state). Under ZeRO an optimiser owns only part of each tensor
// (ZeroShard::ranges): it allocates moments for those elements alone and updates only them.
#include <string>
#include <vector>

#include "core/arena.h"
#include "core/element_range.h"
#include "layers/planner.h"

namespace pha {

struct AdamWConfig {
  double lr = 0.0;  // the current learning rate: the schedule sets it before each step (set_lr)
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;  // decay group only
  double dss_lr_cap = 1e-3;   // dss group learning rate = min(dss_lr_cap, lr)
  // Refuses values outside the ranges AdamW is defined for, naming the field.
  void validate() const;
};

class AdamW {
 public:
  // Zeroed moments for every tensor of `param_table` (the model's params().table()). owned: per
  // tensor, the elements this optimiser updates and keeps moments for (a ZeRO shard); empty:
  // every element.
  AdamW(Backend& backend, const SizeTable& param_table, const AdamWConfig& config,
        std::vector<ElementRange> owned = {});
  // Bytes of moments such an optimiser allocates (the planner's figure).
  static size_t state_bytes(const SizeTable& param_table, const std::vector<ElementRange>& owned);

  void set_lr(double lr);
  double lr() const { return config_.lr; }
  const AdamWConfig& config() const { return config_; }
  // What a group gets at the current lr.
  double group_lr(ParamGroup group) const;
  double group_weight_decay(ParamGroup group) const;

  // One update of every parameter from its gradient. params and grads are arenas over the table
  // the optimiser was made for, specs the matching ParamSpecs (same order and names).
  // step_number t >= 1 counts updates since the start of training (bias corrections 1 - beta^t;
  // a resumed run passes the step it continues from). Only the owned elements change; the
  // gradients are read there only.
  void step(const Arena& params, const Arena& grads, const std::vector<ParamSpec>& specs,
            int64_t step_number);
  // The same with the owned elements' gradients given apart: owned_grads[i] is flat [owned
  // size of tensor i] (ZeRO-2 keeps only these: launch/grad_window_reduce.h); unread where empty.
  void step(const Arena& params, const std::vector<Tensor>& owned_grads,
            const std::vector<ParamSpec>& specs, int64_t step_number);
  // The same with the owned elements of the parameters given apart too: owned_params[i] is flat
  // [owned size of tensor i] (ZeRO with compute copies keeps only these of the matmul weights:
  // Model::owned_masters); unread where empty.
  void step(const std::vector<Tensor>& owned_params, const std::vector<Tensor>& owned_grads,
            const std::vector<ParamSpec>& specs, int64_t step_number);

  // Per tensor, the elements this optimiser owns.
  const std::vector<ElementRange>& owned() const { return owned_; }
  // The moments, named as in checkpoints: "/optim/exp_avg/<param>" and "/optim/exp_avg_sq/<param>"
  // (all exp_avg tensors first, then all exp_avg_sq, each in parameter order). Each holds the
  // owned elements: in the parameter's shape when it owns all of it, else flat [owned size].
  const Arena& state() const { return state_; }
  const Tensor& exp_avg(const std::string& param_name) const;
  const Tensor& exp_avg_sq(const std::string& param_name) const;
  // Sets the owned elements of a moment (squared: exp_avg_sq) from the whole tensor, host f32
  // [parameter numel] (a checkpoint load).
  void load_moment(bool squared, const std::string& param_name, const std::vector<float>& whole);
  static std::string exp_avg_name(const std::string& param_name);
  static std::string exp_avg_sq_name(const std::string& param_name);

 private:
  void require_matches(const char* what, const Arena& arena) const;

  Backend* backend_;
  AdamWConfig config_;
  SizeTable param_table_;
  std::vector<ElementRange> owned_;
  Arena state_;
};

}  // namespace pha
