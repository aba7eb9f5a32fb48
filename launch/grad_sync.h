#pragma once
// Everything between a step's backward and its update that crosses ranks: the data-parallel
// average of the gradients (one flat buffer, in buckets: grad_buckets.h), the tied embedding's
// gradient shared by the first and last pipeline stage, the global gradient norm (each parameter
// counted once), and the ZeRO-1 update (each dp rank updates its slice of the flat parameters,
// then all-gather).
//
// The average can overlap backward: last_backward_hook(), given to the step's last backward on
// this stage (run_pipeline_step), starts each bucket's reduction as soon as its gradients are
// complete, and reduce() waits for them. Without the hook (or with overlap off) reduce() does it
// all; both give bit-identical gradients.
#include <functional>
#include <vector>

#include "launch/distributed.h"
#include "launch/grad_buckets.h"
#include "optim/adamw.h"
#include "optim/element_range.h"

namespace pha::launch {

class GradientSync {
 public:
  // overlap: last_backward_hook() starts the dp average during backward (with dp > 1).
  // grad_scale: every gradient is multiplied by it before the average (1 / micro-batches gives the
  // mean over the global batch; 1 leaves the scaling to the caller, before reduce()).
  GradientSync(Model& model, Distributed& dist, bool zero1, bool overlap = true,
               double grad_scale = 1.0, int64_t bucket_elements = 1 << 22);

  // For the step's last backward on this stage: starts each complete bucket's dp average. Empty
  // (nothing to start early) when overlap is off or dp = 1.
  GradsReadyHook last_backward_hook();
  // Scales the gradients by grad_scale, averages them over dp (waiting for the buckets the hook
  // started, starting the others), then sums the tied embedding's two copies (pp > 1). Call once
  // after every step's backward, also on a step that will be skipped: reductions the hook started
  // must complete.
  void reduce(Model& model);
  // Sum of squares of the whole model's gradient (every rank gets the same value).
  double global_sum_squares(Model& model);
  // AdamW on this rank's share (all of it without ZeRO-1), then the parameters' all-gather.
  void step(Model& model, AdamW& optimizer, int64_t step_number);
  bool zero1() const { return zero1_; }
  // ZeRO-1: completes every rank's AdamW moments from the other dp ranks' slices (before a
  // checkpoint, which stores whole moments); nothing to do without ZeRO-1.
  void gather_moments(Model& model, const AdamW& optimizer);

 private:
  void tied_embedding_sync(Model& model);
  // Sum of a host scalar over `group` (through a device scalar: the group may be NCCL).
  double sum_over(parallel::Communicator& group, double value);
  // All-gathers, across dp, each rank's slice of the flat tensors tensor_of(0..n-1) (laid out
  // like the parameter table).
  void all_gather_slices(Model& model, const std::function<Tensor(size_t)>& tensor_of);

  Backend& backend_;
  Distributed& dist_;
  bool zero1_;
  bool overlap_;
  GradBuckets buckets_;
  std::vector<ElementRange> norm_ranges_;    // the gradients this rank counts in the norm
  std::vector<ElementRange> update_ranges_;  // the parameters this rank updates
  int64_t shard_elements_ = 0;               // ZeRO-1: flat elements per dp rank
  Arena staging_;  // tied-embedding exchange, ZeRO-1 gather buffers, the norm's scalar
};

}  // namespace pha::launch
