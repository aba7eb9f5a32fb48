#pragma once
// Everything between a step's backward and its update that crosses ranks: the data-parallel
// average of the gradients (one flat buffer, in buckets), the tied embedding's gradient shared by
// the first and last pipeline stage, the global gradient norm (each parameter counted once), and
// the ZeRO-1 update (each dp rank updates its slice of the flat parameters, then all-gather).
#include <functional>
#include <vector>

#include "launch/distributed.h"
#include "optim/adamw.h"
#include "optim/element_range.h"

namespace pha::launch {

class GradientSync {
 public:
  GradientSync(Model& model, Distributed& dist, bool zero1, int64_t bucket_elements = 1 << 22);

  // Averages the gradients over dp and sums the tied embedding's two copies (pp > 1).
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
  // All-gathers, across dp, each rank's slice of the flat tensors tensor_of(0..n-1) (laid out
  // like the parameter table).
  void all_gather_slices(Model& model, const std::function<Tensor(size_t)>& tensor_of);

  Distributed& dist_;
  bool zero1_;
  int64_t bucket_elements_;
  std::vector<ElementRange> norm_ranges_;    // the gradients this rank counts in the norm
  std::vector<ElementRange> update_ranges_;  // the parameters this rank updates
  int64_t shard_elements_ = 0;               // ZeRO-1: flat elements per dp rank
  Arena staging_;                            // tied-embedding exchange and ZeRO-1 gather buffers
};

}  // namespace pha::launch
