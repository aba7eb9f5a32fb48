#pragma once
// The process's place in the dp x tp x pp x cp grid: MPI start-up, the rank grid and its
// communicators, and the model part this rank computes.
//
// The tp, dp and pp groups move tensors on the backend's device: MpiCommunicator for host tensors
// (the CPU backend), NcclCommunicator for GPU tensors (the CUDA backend; Debian's Open MPI cannot
// read device memory). `world` is always MPI: host scalars (losses, counts, stop flags).
#include <memory>
#include <vector>

#include "layers/model.h"
#include "parallel/rank_grid.h"

namespace pha::launch {

// Starts MPI on construction and finalises it on destruction. `thread_level`: the level asked for
// (funneled: only the main thread calls MPI; multiple: also a background checkpoint writer).
// MPI_Query_thread tells what was provided.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv, int thread_level = MPI_THREAD_FUNNELED);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
};

struct Distributed {
  parallel::RankGrid grid;
  parallel::MpiCommunicator world;

 private:
  // The tp, dp, pp, cp and dp_cp communicators, in that order (built from grid, before the
  // references).
  std::vector<std::unique_ptr<parallel::Communicator>> groups_;

 public:
  parallel::Communicator &tp, &dp, &pp, &cp;
  // The ranks holding the same parameters (dp x cp, the dp group when cp = 1): gradients are
  // averaged and ZeRO shards over it.
  parallel::Communicator& grad;
  int n_micro = 1;  // micro-batches per step on this dp rank

  // Collective: every rank passes the same layout. Refuses (pha::Error, same text on every rank) a
  // layout that does not divide the world, the model or the batch, before any allocation.
  // `backend` (the one the model runs on) picks the groups' communicators: none or the CPU
  // backend, MPI; the CUDA backend, NCCL on its GPU and stream (refused in builds without NCCL).
  Distributed(parallel::Layout layout, const ModelConfig& cfg, int64_t n_micro, double timeout_s,
              Backend* backend = nullptr);

  int dp_rank() const { return grid.coord().dp; }
  int cp_rank() const { return grid.coord().cp; }
  int grad_size() const { return grad.size(); }
  int grad_rank() const { return grad.rank(); }
  int tp_rank() const { return grid.coord().tp; }
  int stage() const { return grid.coord().pp; }
  int n_stages() const { return grid.layout().pp; }
  bool first_stage() const { return stage() == 0; }
  bool last_stage() const { return stage() == n_stages() - 1; }
  // What this rank's Model holds.
  ModelPart model_part(const ModelConfig& cfg);
  // Every collective's statistics summed (communication fraction of a step).
  double comm_seconds() const;
  // This thread's CPU time inside every group's calls (polling).
  double comm_cpu_seconds() const;
  void reset_comm_stats();
};

// The model part of the rank at `coord` (no communicator set): what Distributed::model_part
// gives that rank, for the planner.
ModelPart model_part_at(const parallel::Layout& layout, const parallel::GridCoord& coord,
                        const ModelConfig& cfg, int n_micro);

// Checks that `layout` divides the model: n_kv, d_ff, F and V_pad by tp (n_q follows from n_kv),
// L by pp; one message naming every number that fails. (The sequence length's split by 2 cp is
// checked with the training settings.)
void validate_model_layout(const parallel::Layout& layout, const ModelConfig& cfg);

}  // namespace pha::launch
