#pragma once
// The data-parallel average of the flat gradient arena in buckets, each started as soon as
// backward has completed its gradients, so the reduction overlaps the rest of backward.
//
// A bucket is a fixed chunk of the flat arena: elements [k * bucket_elements, (k + 1) *
// bucket_elements), the last shorter; the chunks are the same on every dp rank and whether or not
// they overlap backward, so every path reduces each element in the same calls and the averages
// are bit-identical. Each bucket is scaled (by 1 / micro-batches: the mean over the global batch)
// right before its reduction starts, the same per-element product as scaling the whole arena.
//
// Backward completes parameters from the end of the table (the head, the blocks in reverse, then
// the embedding), so the complete part of the arena is a suffix; buckets start from the last one
// as the suffix covers them.
#include <vector>

#include "core/arena.h"
#include "parallel/communicator.h"

namespace pha::launch {

class GradBuckets {
 public:
  // grads: the gradient arena (one dtype throughout). dp: the group to average over, or null to
  // only scale (dp = 1). scale: the factor applied to every gradient first.
  GradBuckets(const Arena& grads, int64_t bucket_elements, parallel::Communicator* dp,
              double scale);

  // Parameters [first, end) of the table have complete gradients: scales and starts every bucket
  // that is now complete.
  void complete(size_t first, size_t end);
  // Scales and starts the buckets not started yet, waits for every reduction, and makes ready for
  // the next step.
  void finish();

  int64_t bucket_count() const { return bucket_count_; }

 private:
  void start(int64_t bucket);

  Tensor flat_;  // the whole arena [elements]
  int64_t bucket_elements_;
  int64_t bucket_count_;
  parallel::Communicator* dp_;
  double scale_;
  std::vector<int64_t> tensor_end_;  // per parameter: its end in the flat arena, in elements
  std::vector<char> complete_;       // per parameter: gradient complete this step
  size_t complete_from_;             // parameters [complete_from_, n) are all complete
  int64_t unstarted_;                // buckets [0, unstarted_) are not started yet
  std::vector<parallel::PendingReduce> pending_;
};

}  // namespace pha::launch
