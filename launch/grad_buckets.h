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
// Progress: MPI moves a non-blocking reduction only inside MPI calls, so a started bucket would
// otherwise wait for finish(). With MPI_THREAD_MULTIPLE a progress thread polls the pending
// reductions (Communicator::progress, i.e. MPI_Test) every ProgressPoller::kPollInterval while any
// is in flight, so they advance during backward's computation; without it complete() polls them
// after each layer's backward. Either way the reductions and their results are the same.
//
// Backward completes parameters from the end of the table (the head, the blocks in reverse, then
// the embedding), so the complete part of the arena is a suffix; buckets start from the last one
// as the suffix covers them.
#include <vector>

#include "core/arena.h"
#include "launch/progress_poller.h"
#include "parallel/communicator.h"

namespace pha::launch {

class GradBuckets {
 public:
  static constexpr int64_t kBucketElements = int64_t{1} << 22;  // GradientSync's bucket size

  // grads: the gradient arena (one dtype throughout). dp: the group to average over, or null to
  // only scale (dp = 1). scale: the factor applied to every gradient first. max_in_flight: the
  // most reductions in flight at once (0: no limit); starting one more first waits for the
  // oldest, which bounds the MPI library's temporaries (one copy of each bucket in flight:
  // MpiCommunicator::all_reduce_copies) to max_in_flight buckets.
  GradBuckets(const Arena& grads, int64_t bucket_elements, parallel::Communicator* dp, double scale,
              int64_t max_in_flight = 0);
  // The bytes of the buckets a gradient arena of `arena_bytes` (elements of `element` bytes) can
  // have in flight at once: the max_in_flight largest (all of them with no limit).
  static size_t max_in_flight_bytes(size_t arena_bytes, size_t element, int64_t bucket_elements,
                                    int64_t max_in_flight);
  GradBuckets(const GradBuckets&) = delete;
  GradBuckets& operator=(const GradBuckets&) = delete;

  // Parameters [first, end) of the table have complete gradients: scales and starts every bucket
  // that is now complete.
  void complete(size_t first, size_t end);
  // Scales and starts the buckets not started yet, waits for every reduction, and makes ready for
  // the next step.
  void finish();

  int64_t bucket_count() const { return bucket_count_; }
  bool progress_thread() const { return poller_.running(); }

 private:
  void start(int64_t bucket);  // with poller_.mutex() held
  // Polls every pending reduction once; true when none needs more polls. With the poller's mutex
  // held.
  bool poll_pending();

  Tensor flat_;  // the whole arena [elements]
  int64_t bucket_elements_;
  int64_t bucket_count_;
  parallel::Communicator* dp_;
  double scale_;
  std::vector<int64_t> tensor_end_;  // per parameter: its end in the flat arena, in elements
  std::vector<char> complete_;       // per parameter: gradient complete this step
  size_t complete_from_;             // parameters [complete_from_, n) are all complete
  int64_t unstarted_;                // buckets [0, unstarted_) are not started yet
  int64_t max_in_flight_;
  std::vector<parallel::PendingReduce> pending_;  // guarded by poller_.mutex() (it polls them)
  std::vector<char> done_;  // per pending_: completed (polled done, or waited for)
  // Last: its thread starts after, and stops before, everything it polls.
  ProgressPoller poller_{[this] { return poll_pending(); }};
};

}  // namespace pha::launch
