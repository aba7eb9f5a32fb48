#pragma once
// ZeRO-2's gradient path (docs/parallelism.md, "ZeRO"): backward writes each group of parameters
// into its place of the model's gradient window (layers/grad_window.h); as each group completes,
// its place is reduce-scattered over dp (non-blocking, overlapped with the next groups' backward;
// the parts are the place's pieces in each rank's chunk, so unequal) and this rank adds its own
// part, averaged and times the micro-batch scale, to the one
// gradient buffer that lives for the whole step: the shard [S] of the flat parameter arena's
// chunk this dp rank owns (ZeroShard). A place is zeroed for its next group once the reductions
// reading it have been waited for. This happens in every backward of the step, so the shard
// accumulates the micro-batches.
//
// MPI moves a non-blocking reduction only inside MPI calls: as GradBuckets does, a progress thread
// polls the reductions in flight every ProgressPoller::kPollInterval where MPI provides
// MPI_THREAD_MULTIPLE; without it they are polled after each group's backward.
//
// On MPI the reduce-scatter is MPI_Ireduce_scatter; NCCL has no unequal-part reduce-scatter and
// the NCCL communicator all-reduces the place instead (Communicator::reduce_scatter_start's
// default: the same memory, twice the traffic).
#include <vector>

#include "core/element_range.h"
#include "launch/distributed.h"
#include "launch/grad_buckets.h"
#include "launch/progress_poller.h"

namespace pha::launch {

class GradWindowReduce {
 public:
  // model: built with ModelPart::grad_window. scale: the factor applied to every gradient
  // (1 / micro-batches). overlap false: each group's reduction is waited for as soon as it is
  // started (NCCL without ordered launches while tp or pp collectives run: grad_sync.cpp).
  GradWindowReduce(Model& model, parallel::Communicator& dp, double scale, bool overlap = true);
  GradWindowReduce(const GradWindowReduce&) = delete;
  GradWindowReduce& operator=(const GradWindowReduce&) = delete;

  // The table of the shard buffer (the planner's figure): one flat tensor of S elements.
  static SizeTable shard_table(const SizeTable& params, int dp);
  // The most window bytes whose reductions can be in flight at once (the planner's bound for
  // MPI's temporaries): the places of the groups started and not yet waited for, as completed()
  // and prepare() start and wait for them over backwards in a row, if none completes early.
  static size_t max_in_flight_bytes(const GradWindow& window, bool overlap = true);
  // For every backward of the step (run_pipeline_step's every_backward_ready).
  GradsReadyHook hook();
  // After the step's last backward: waits for the reductions in flight and adds them.
  void finish();
  // Adds this rank's part of a kept group (the tied embedding's whole copy, already averaged and
  // summed over the pipeline's ends by the caller) to the shard.
  void add_kept(const GradGroup& group);
  // The step's shard is complete (after finish and add_kept): it stays as it is until the next
  // step's first group adds to it, from zero.
  void end_reduction();
  // Per parameter, a flat view of its owned elements' gradient in the shard ([owned size]; empty
  // where this rank owns none).
  const std::vector<Tensor>& owned_grads() const { return owned_grads_; }
  const Arena& shard() const { return shard_; }

 private:
  struct InFlight {
    GradGroup group;
    parallel::PendingReduce request;
  };
  void completed(size_t first, size_t end);
  // Waits for every reduction in flight and adds it. With poller_.mutex() held.
  void finish_in_flight();
  // Polls every reduction in flight once; true when none needs more polls. With poller_.mutex()
  // held.
  bool poll_in_flight();
  // Adds the group's owned part of the window, times scale_, to the shard.
  void add(const GradGroup& group);
  // Waits for (and adds) every reduction whose place overlaps `group`'s, then zeroes its place.
  // With poller_.mutex() held.
  void prepare(const GradGroup& group);
  Tensor place(const GradGroup& group) const;
  // Per dp rank, the elements of the group's place in its chunk.
  std::vector<int64_t> parts(const GradGroup& group) const;

  Model& model_;
  Backend& backend_;
  parallel::Communicator& dp_;
  double scale_;
  bool overlap_;
  const GradWindow& window_;
  std::vector<ElementRange> owned_;       // per parameter
  std::vector<int64_t> packed_elements_;  // per parameter: its start in the flat parameter arena
  int64_t chunk_elements_ = 0;            // S
  Arena shard_;
  std::vector<Tensor> owned_grads_;
  size_t next_ = 0;                  // the index in window_.order of the next group to complete
  bool shard_is_stale_ = true;       // holds the last step's sum: zero it before the first add
  std::vector<InFlight> in_flight_;  // guarded by poller_.mutex() (its thread polls them)
  // Last: its thread (on the CPU, where MPI provides MPI_THREAD_MULTIPLE) starts after, and stops
  // before, everything it polls.
  ProgressPoller poller_{[this] { return poll_in_flight(); }};
};

}  // namespace pha::launch
