#pragma once
// The planner behind `pha plan` and the trainer's start-up table: what every rank of a layout
// allocates, computed from the same size tables the Model, AdamW and GradientSync allocate from
// (the Planner's declare pass; nothing is allocated), the FLOPs of a step, and the layout that
// a simple cost model expects to be fastest within a memory budget.
#include <string>
#include <utility>
#include <vector>

#include "launch/train_config.h"
#include "layers/model.h"
#include "layers/planner.h"
#include "parallel/grid.h"

namespace pha {
class Model;
class AdamW;
}  // namespace pha

namespace pha::launch {

class GradientSync;

// Bytes one rank allocates, by arena.
struct RankMemory {
  int rank = 0;
  parallel::GridCoord coord;
  size_t parameters = 0;    // the master weights (padded to dp chunks); ZeRO with compute copies:
                            // this rank's chunk of them and the parameters without copies whole
  size_t gradients = 0;     // gradients kept for the step: the arena (same size), or ZeRO-2's
                            // shard of this rank's chunk (1/dp)
  size_t grad_window = 0;   // ZeRO-2: the reusable window backward writes into (grad_window.h)
  size_t compute = 0;       // bf16 compute copies of the matmul weights (mixed precision only)
  size_t optimizer = 0;     // AdamW's moments (this rank's ZeRO chunk under ZeRO)
  size_t activations = 0;   // every activation slot, and the recompute buffer
  size_t scratch = 0;       // backward scratch
  size_t comm_buffers = 0;  // gradient-sync staging (norm scalar, tied-embedding exchange)
  // Modelled, not an arena (0 in allocated_memory): the MPI library's temporaries of the
  // collectives this rank can have in flight at once (comm_in_flight_bytes).
  size_t comm_in_flight = 0;
  // Activations of all slots by where they are named: attention, gss, ffn, mixer, block (norms,
  // branch outputs), stream (the residual stream x.l), head, inputs (tokens, targets, RoPE); and
  // the recompute buffer (train.recompute).
  std::vector<std::pair<std::string, size_t>> activations_by_branch;
  // Context parallelism's ring buffers (received K/V and zn, returned gradients, padded
  // products): part of scratch, shown on their own line.
  size_t context_buffers = 0;
  // Communication at its peak: the staging arena and the temporaries in flight.
  size_t comm() const { return comm_buffers + comm_in_flight; }
  size_t total() const;  // every field, comm_in_flight included
  size_t arena_total() const { return total() - comm_in_flight; }
  // The arena sizes, space-separated, the same in `pha plan` and the trainer's "allocated" lines:
  // "parameters P gradients G grad_window W compute C optimizer O activations A scratch S
  // comm_buffers B".
  std::string arena_fields() const;
  // The plan's line: the arena fields, then " comm_in_flight F comm M total T" (M = B + F).
  std::string fields() const;
};

// What this rank's collectives hold beyond its arenas at their peak, by the rule of
// MpiCommunicator::all_reduce_copies / reduce_scatter_copies (Open MPI's temporaries per operation
// in flight; none on the GPU, where NCCL works in its own fixed buffers): the dp average's
// buckets (parallel.grad_buckets_in_flight of them; with no limit all can be in flight at the end
// of the last backward: the whole gradient arena), or ZeRO-2's window places in flight at once
// (GradWindowReduce::max_in_flight_bytes; after them, the tied embedding's blocking all-reduce),
// plus one tp all-reduce of the largest activation the layers all-reduce (blocking, during the
// backward the dp reductions overlap). Pipeline sends and receives move arena tensors in place:
// nothing.
size_t comm_in_flight_bytes(const TrainConfig& cfg, const ModelPart& part,
                            const parallel::Layout& layout, int zero, const PlannedTables& t);

struct LayoutPlan {
  parallel::Layout layout;
  int zero = 0;                   // the ZeRO stage (0 with dp = 1)
  int64_t micro_batches = 1;      // per dp rank and step
  std::vector<RankMemory> ranks;  // every world rank, in rank order
  size_t flat_param_bytes = 0;    // the largest chunk-padded parameter arena (what dp moves)
  double flops_per_step = 0;      // model FLOPs of one step, all ranks together
  Recompute recompute = Recompute::none;  // train.recompute
  double recompute_flops_per_step = 0;    // what recomputation adds, all ranks together
  size_t max_rank_bytes() const;
};

// The plan of `cfg`'s model, batch and precision on `layout` (dp resolved, >= 1) with ZeRO stage
// `zero`, `micro_batches` per dp rank. Refuses a layout that does not fit the model.
LayoutPlan plan_layout(const TrainConfig& cfg, parallel::Layout layout, int zero,
                       int64_t micro_batches);

// The table `pha plan` and the trainer print.
std::string format_plan(const LayoutPlan& plan, const TrainConfig& cfg);

// What this rank's arenas hold (the trainer's check against the plan).
RankMemory allocated_memory(const Model& model, const AdamW& optimizer, const GradientSync& sync);

// The cost model of docs/cli.md ("pha plan"): seconds of one step on `plan`'s layout, from the
// FLOPs (recomputation's included) at `peak_flops` per rank, the 1F1B bubble, and the tp, dp and pp
// traffic at `bandwidth` bytes/s per rank.
double modelled_step_seconds(const LayoutPlan& plan, const TrainConfig& cfg, double peak_flops,
                             double bandwidth);

// Every layout of `ranks` ranks (dp x tp x pp, ZeRO 0/1/2, recompute none/selective/full) that
// fits the model and keeps the global batch of `cfg`, with its modelled step time, fastest first.
struct Candidate {
  LayoutPlan plan;
  double seconds = 0;
};
std::vector<Candidate> rank_layouts(const TrainConfig& cfg, int ranks, double peak_flops,
                                    double bandwidth);

// "2GiB", "512MiB", "1.5G", "300000000": bytes. Refuses anything else, naming the text.
size_t parse_bytes(const std::string& text);

}  // namespace pha::launch
