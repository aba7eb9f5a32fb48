#pragma once
// Everything between a step's backward and its update that crosses ranks: the data-parallel
// average of the gradients (one flat buffer, in buckets: grad_buckets.h), the tied embedding's
// gradient shared by the first and last pipeline stage, the global gradient norm (each parameter
// counted once), and ZeRO (parallelism.md, "ZeRO"): each dp rank owns one chunk of the flat
// parameter arena (ZeroShard), keeps AdamW moments for it alone, updates it, and the parameters are
// all-gathered in place. ZeRO-1 all-reduces the whole gradient; ZeRO-2 keeps only its own chunk's
// gradient for the step (the shard of grad_window_reduce.h): backward writes into the model's
// gradient window, and each group is reduce-scattered over dp and its part added to the shard as
// it completes, in every backward. With compute copies the masters are sharded too (the model
// holds only its chunk of them: Model::master_shard): the copies are all-gathered instead.
//
// The average can overlap backward: last_backward_hook(), given to the step's last backward on
// this stage (run_pipeline_step), starts each bucket's reduction as soon as its gradients are
// complete, and reduce() waits for them. Without the hook (or with overlap off) reduce() does it
// all; both give bit-identical gradients.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/element_range.h"
#include "launch/distributed.h"
#include "launch/grad_buckets.h"
#include "launch/grad_window_reduce.h"
#include "optim/adamw.h"

namespace pha::launch {

class GradientSync {
 public:
  // overlap: last_backward_hook() starts the dp average during backward (with dp > 1).
  // grad_scale: every gradient is multiplied by it before the average (1 / micro-batches gives the
  // mean over the global batch; 1 leaves the scaling to the caller, before reduce()).
  // zero: 0 (every rank updates everything), 1 or 2 (the ZeRO stage; ignored with dp = 1).
  // ZeRO-2 needs a model built with ModelPart::grad_window (with_grad_window) and
  // every_backward_hook() in every backward.
  // buckets_in_flight: the most dp bucket reductions in flight at once (0: no limit;
  // GradBuckets).
  GradientSync(Model& model, Distributed& dist, int zero, bool overlap = true,
               double grad_scale = 1.0, int64_t bucket_elements = GradBuckets::kBucketElements,
               int64_t buckets_in_flight = 0);
  // Per parameter, the elements this rank's optimiser owns under ZeRO stage `zero` (all of them
  // without ZeRO or with dp = 1): give them to the AdamW the rank steps with.
  static std::vector<ElementRange> owned_ranges(const Model& model, const Distributed& dist,
                                                int zero);

  // For the step's last backward on this stage: starts each complete bucket's dp average. Empty
  // (nothing to start early) when overlap is off or dp = 1.
  GradsReadyHook last_backward_hook();
  // For every backward of the step (ZeRO-2: moves each completed group out of the gradient
  // window); empty otherwise.
  GradsReadyHook every_backward_hook();
  // The model part `part` with the gradient window ZeRO stage `zero` on `dp` ranks needs.
  static ModelPart with_grad_window(ModelPart part, int zero, int dp);
  // The gradient memory that lives for the whole step: the arena, or ZeRO-2's shard.
  size_t gradient_bytes(const Model& model) const;
  // ZeRO-2: the shard (one flat tensor of S elements) and, per parameter, the flat view of its
  // owned elements in it.
  const Arena& gradient_shard() const;
  const std::vector<Tensor>& owned_gradients() const;
  // The communication buffers one rank allocates (the planner's figure): the norm's scalar and,
  // on the pipeline's two ends with a tied embedding, the other end's embedding gradient.
  static SizeTable staging_table(const ModelConfig& cfg, const ModelPart& part, int n_stages,
                                 const SizeTable& params);
  const Arena& staging() const { return staging_; }
  // Scales the gradients by grad_scale, averages them over dp (waiting for the buckets the hook
  // started, starting the others), then sums the tied embedding's two copies (pp > 1); ZeRO-2
  // instead waits for the window's reductions still in flight, then averages the kept tied copy
  // of E (pp > 1), sums it with the other end's and adds this rank's part to the shard. Call once
  // after every step's backward, also on a step that will be skipped: reductions the hook started
  // must complete.
  void reduce(Model& model);
  // Sum of squares of the whole model's gradient (every rank gets the same value).
  double global_sum_squares(Model& model);
  // Scales this rank's gradients (all, or ZeRO-2's shard) to the global norm max_norm
  // (clip_by_global_norm); returns the norm before.
  double clip(Model& model, double sum_squares, double max_norm);
  // The first of this rank's gradients holding a NaN or Inf (ZeRO-2: in its shard).
  std::optional<std::string> first_nonfinite_gradient(const Model& model) const;
  // AdamW on this rank's share (all of it without ZeRO), then the parameters' all-gather and the
  // compute copies' refresh. ZeRO with compute copies (Model::compute_in_chunks: the masters
  // sharded) instead steps the master shard, casts it into this rank's chunk of the copies,
  // all-gathers the copies (bf16 on a GPU: half the bytes) and shares the small parameters
  // without copies (norm gains, D, alpha, the DSS lambda and C, the mixing weights: all-reduced
  // whole).
  void step(Model& model, AdamW& optimizer, int64_t step_number);
  // Every master whole, laid out like the parameters: the model's own parameter arena, or (ZeRO
  // with compute copies, collective over dp) the master shards all-gathered, with the small
  // parameters, into the gather buffer (below). Before anything reads the masters: a
  // checkpoint, the weights export.
  const Arena& gather_masters(Model& model);
  int zero() const { return zero_; }
  // ZeRO, collective over dp: the whole moment (squared: exp_avg_sq) assembled from every dp
  // rank's chunk into the gather buffer, laid out like the parameters (a checkpoint reads it
  // there).
  const Arena& gather_moment(Model& model, const AdamW& optimizer, bool squared);
  // gather_masters and gather_moment assemble into one buffer, each call overwriting the last:
  // ZeRO-1's gradient arena (dead between a step and the next zero_grads: call them there),
  // or, as ZeRO-2 has no whole gradient arena, a buffer of the parameters' size allocated by the
  // first call and held until release_gather_buffer() (after the checkpoint or export has read
  // it).
  void release_gather_buffer() { gather_buffer_ = Arena(); }

 private:
  void tied_embedding_sync(Model& model);
  // ZeRO with compute copies: every parameter without a compute copy made whole from the owners.
  void share_small_masters(Model& model);
  // Sum of a host scalar over `group` (through a device scalar: the group may be NCCL).
  double sum_over(parallel::Communicator& group, double value);
  // The whole arena as one flat tensor [dp chunks], and this rank's chunk of it.
  Tensor flat(const Arena& arena) const;
  Tensor chunk(const Arena& arena) const;

  Backend& backend_;
  Distributed& dist_;
  int zero_;
  bool overlap_;
  GradBuckets buckets_;
  // The gather buffer (above): the gradient arena, or ZeRO-2's gather_buffer_.
  const Arena& whole_buffer(Model& model);

  std::unique_ptr<GradWindowReduce> window_;  // ZeRO-2
  Arena gather_buffer_;                       // ZeRO-2, during a checkpoint or export
  std::vector<char> counted_;                 // per parameter: counted in the norm here
  std::vector<ElementRange> norm_ranges_;     // the gradients this rank counts in the norm
  ZeroShard shard_;                           // this rank's chunk (ZeRO)
  std::vector<ElementRange> owned_;           // per parameter, its elements in the chunk (ZeRO)
  int64_t chunk_elements_ = 0;
  Arena staging_;  // tied-embedding exchange, the norm's scalar
};

}  // namespace pha::launch
