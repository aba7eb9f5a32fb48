#pragma once
// Planner: the one place where a layer names its tensors. Every layer's make_* function runs
// twice: a declare pass fills the size tables (parameters, activations, backward scratch), the
// arenas are allocated from them, and a bind pass hands out the tensors carved from the arenas.
// So the size table drives allocation, checkpoints and sharding, and no index is hard-coded.
#include <string>
#include <vector>

#include "core/arena.h"
#include "layers/precision.h"

namespace pha {

// How a parameter is initialised (model.md, "Initialisation").
enum class InitKind : uint8_t {
  normal,         // normal(0, stddev)
  ones,           // 1
  zeros,          // 0
  s4d_lambda_re,  // log(0.5 dt_n), dt_n log-uniform in [1e-3, 1e-1]
  s4d_lambda_im,  // log(pi (n + 0.5) dt_n)
};

// The optimiser group (model.md, "Optimiser groups").
enum class ParamGroup : uint8_t {
  decay,     // 2-D weights and E: weight decay
  no_decay,  // norms, alpha, D
  dss,       // lambda_*, C_*: no decay, learning rate capped
};

// How a parameter is split across the tensor-parallel ranks (parallel.md).
enum class TpSplit : uint8_t {
  replicated,  // every tp rank holds all of it
  rows,        // dim 0 split into tp equal blocks (output rows of a linear layer, vocab rows)
  cols,        // dim 1 split into tp equal blocks (input columns of a linear layer)
};

struct ParamSpec {
  std::string name;
  Shape shape;         // this rank's shape
  Shape global_shape;  // the whole parameter (what checkpoints and the reference hold)
  TpSplit split = TpSplit::replicated;
  int64_t offset = 0;  // where this rank's block starts along the split dim
  InitKind init = InitKind::normal;
  double stddev = 0.0;
  ParamGroup group = ParamGroup::decay;
  // Global element index of local element `i` (initialisation, checkpoints).
  int64_t global_index(int64_t i) const;
};

// This rank's place in its tensor-parallel group.
struct TpPosition {
  int size = 1, rank = 0;
};

// Activation recomputation (docs/model.md, "Recomputation"): which forward activations of a block
// are dropped after the forward and recomputed from the block's input in its backward.
//   none:      every activation is kept;
//   selective: the block input, and what is expensive to recompute or needs communication
//              (attention output and log-sum-exp, GSS convolution and DSS kernel, the branch
//              outputs the mixer reads, a serial block's x_mid) are kept; norms, projections, gates
//              and the FFN hidden layer are recomputed;
//   full:      only the block input is kept: the block's forward runs again in its backward.
enum class Recompute : uint8_t { none, selective, full };
// "none" | "selective" | "full"; anything else throws naming the choices.
Recompute parse_recompute(const std::string& name);
const char* recompute_name(Recompute mode);
// The least mode under which a block activation is recomputed, by its name inside the block
// ("attn.q", "gss.conv", "h", ...: the name after "layers.<l>."). Throws for a name without a
// rule, so a new activation cannot silently escape the policy.
Recompute recomputed_from(const std::string& block_local_name);

struct Param {
  // The master and its gradient (Precision::param); `value` is empty for a matmul weight whose
  // master is sharded (Model::compute_in_chunks).
  Tensor value, grad;
  // What matmuls read: the compute copy (Precision::act) of a matmul weight under mixed
  // precision, else `value` itself.
  Tensor compute;
};

class Planner {
 public:
  // Declare pass. `precision` gives the types of parameters and activations (all f32 by default;
  // all f64 for gradient checks of whole layers and models).
  // `recompute` moves the block activations it drops (recomputed_from) from the activation
  // table to the recompute table.
  explicit Planner(Precision precision = {}, TpPosition tp = {},
                   Recompute recompute = Recompute::none)
      : precision_(precision), tp_(tp), recompute_(recompute) {}
  // Bind pass over the arenas made from this planner's tables by the declare pass; `compute` is
  // the arena of compute_table() (unused when it is empty), `recomputed` that of
  // recompute_table() (needed when `recompute` is not none).
  Planner(Precision precision, TpPosition tp, const Arena& params, const Arena& grads,
          const Arena& compute, const Arena& acts, const Arena& scratch,
          Recompute recompute = Recompute::none, const Arena* recomputed = nullptr);

  // `shape` is the global shape; a split parameter gets this rank's block of it.
  Param param(const std::string& name, Shape shape, InitKind init, double stddev, ParamGroup group,
              TpSplit split = TpSplit::replicated);
  // A forward activation kept for backward (one per layer and name). A block's activation
  // ("layers.<l>.NAME") that the recompute mode drops lives instead in the recompute buffer under
  // NAME: one per name for all layers (like scratch), overwritten by every layer's forward and
  // refilled by the block's backward before use (block_recompute).
  Tensor act(const std::string& name, Shape shape) { return act(name, shape, precision_.act); }
  Tensor act(const std::string& name, Shape shape, DType dtype);
  // A row statistic kept for backward (rstd, mean, lse, losses): Precision::stat().
  Tensor stat(const std::string& name, Shape shape) { return act(name, shape, precision_.stat()); }
  // A backward temporary: the same name asked for again (by another layer) is the same memory.
  Tensor scratch(const std::string& name, Shape shape) {
    return scratch(name, shape, precision_.act);
  }
  Tensor scratch(const std::string& name, Shape shape, DType dtype);
  const Precision& precision() const { return precision_; }

  bool binding() const { return params_ != nullptr; }
  const SizeTable& param_table() const { return param_table_; }
  const SizeTable& compute_table() const { return compute_table_; }
  const SizeTable& act_table() const { return act_table_; }
  const SizeTable& scratch_table() const { return scratch_table_; }
  const SizeTable& recompute_table() const { return recompute_table_; }
  Recompute recompute() const { return recompute_; }
  const std::vector<ParamSpec>& param_specs() const { return param_specs_; }

 private:
  Tensor bound(const Arena& arena, const std::string& name, const Shape& shape) const;
  // Declares or binds `name` in a table shared by all layers (scratch, recompute buffer).
  Tensor shared(SizeTable& table, const Arena* arena, const std::string& what,
                const std::string& name, const Shape& shape, DType dtype);
  Precision precision_;
  TpPosition tp_;
  Recompute recompute_ = Recompute::none;
  SizeTable param_table_, compute_table_, act_table_, scratch_table_, recompute_table_;
  std::vector<ParamSpec> param_specs_;
  const Arena* params_ = nullptr;
  const Arena* grads_ = nullptr;
  const Arena* compute_ = nullptr;
  const Arena* acts_ = nullptr;
  const Arena* scratch_ = nullptr;
  const Arena* recomputed_ = nullptr;
};

}  // namespace pha
