#include "launch/distributed.h"

#include <fmt/format.h>

#include "core/cuda_plugin.h"
#include "parallel/abort.h"
#include "parallel/pipeline_schedule.h"

namespace pha::launch {

using parallel::GroupKind;

MpiSession::MpiSession(int* argc, char*** argv, int thread_level) {
  int provided = 0;
  parallel::check_mpi(MPI_Init_thread(argc, argv, thread_level, &provided), "MPI_Init");
}

MpiSession::~MpiSession() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void validate_model_layout(const parallel::Layout& layout, const ModelConfig& cfg) {
  std::string problems;
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) problems += (problems.empty() ? "" : "; ") + what;
  };
  const int tp = layout.tp, pp = layout.pp;
  const bool attention = cfg.block.serial || cfg.block.attention;
  const bool ffn = cfg.block.serial || cfg.block.ffn;
  const bool gss = !cfg.block.serial && cfg.block.gss;
  if (attention)
    need(cfg.n_kv % tp == 0, fmt::format("n_kv = {} is not divisible by tp = {}", cfg.n_kv, tp));
  if (ffn)
    need(cfg.d_ff % tp == 0, fmt::format("d_ff = {} is not divisible by tp = {}", cfg.d_ff, tp));
  if (gss)
    need(cfg.gss_f % tp == 0, fmt::format("F = {} is not divisible by tp = {}", cfg.gss_f, tp));
  need(cfg.vocab_padded() % tp == 0,
       fmt::format("V_pad = {} is not divisible by tp = {}", cfg.vocab_padded(), tp));
  need(pp <= cfg.n_layers,
       fmt::format("pp = {} is larger than the layer count L = {}", pp, cfg.n_layers));
  need(cfg.n_layers % pp == 0,
       fmt::format("L = {} is not divisible by pp = {} (stages must be balanced)", cfg.n_layers,
                   pp));
  PHA_REQUIRE(problems.empty(), "the layout {} does not fit the model: {}", layout.str(), problems);
}

namespace {
parallel::Layout checked(parallel::Layout layout, const ModelConfig& cfg) {
  int world = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  const parallel::Layout resolved = parallel::resolve_layout(layout, world);
  validate_model_layout(resolved, cfg);
  return resolved;
}

// The tp, dp, pp, cp and dp_cp groups' communicators for tensors on `backend`'s device.
std::vector<std::unique_ptr<parallel::Communicator>> group_communicators(
    const parallel::RankGrid& grid, double timeout_s, Backend* backend) {
  std::vector<std::unique_ptr<parallel::Communicator>> groups;
  for (GroupKind kind :
       {GroupKind::tp, GroupKind::dp, GroupKind::pp, GroupKind::cp, GroupKind::dp_cp}) {
    auto mpi = std::make_unique<parallel::MpiCommunicator>(grid.communicator(kind, timeout_s));
    if (backend == nullptr || backend->device() == Device::cpu) {
      groups.push_back(std::move(mpi));
      continue;
    }
    const NcclPlugin* nccl = nccl_plugin();
    PHA_REQUIRE(nccl != nullptr,
                "the {} group: the {} backend's tensors need the NCCL communicator, which this "
                "build lacks (configure with CUDA and NCCL found)",
                mpi->name(), backend->name());
    groups.push_back(nccl->make_communicator(*mpi, *backend));
  }
  return groups;
}
}  // namespace

Distributed::Distributed(parallel::Layout layout, const ModelConfig& cfg, int64_t micro,
                         double timeout_s, Backend* backend)
    : grid(MPI_COMM_WORLD, checked(layout, cfg)),
      world(grid.communicator(GroupKind::world, timeout_s)),
      groups_(group_communicators(grid, timeout_s, backend)),
      tp(*groups_[0]),
      dp(*groups_[1]),
      pp(*groups_[2]),
      cp(*groups_[3]),
      grad(*groups_[4]),
      n_micro(static_cast<int>(micro)) {}

ModelPart model_part_at(const parallel::Layout& layout, const parallel::GridCoord& coord,
                        const ModelConfig& cfg, int n_micro) {
  const auto stages = parallel::stage_layers(static_cast<int>(cfg.n_layers), layout.pp);
  const auto& mine = stages[static_cast<size_t>(coord.pp)];
  ModelPart part;
  part.tp = TpPosition{layout.tp, coord.tp};
  part.first_layer = mine.first;
  part.n_layers = mine.count;
  part.has_embedding = coord.pp == 0;
  part.has_head = coord.pp == layout.pp - 1;
  // 1F1B keeps at most (stages - stage) micro-batches in flight on a stage.
  part.slots = std::max(1, std::min(layout.pp - coord.pp, n_micro));
  part.flat_chunks = layout.dp * layout.cp;
  part.flat_chunk = coord.cp + layout.cp * coord.dp;  // its rank in the dp x cp group
  part.cp = parallel::ContextSplit{layout.cp, coord.cp};
  return part;
}

ModelPart Distributed::model_part(const ModelConfig& cfg) {
  ModelPart part = model_part_at(grid.layout(), grid.coord(), cfg, n_micro);
  part.tp_comm = grid.layout().tp > 1 ? &tp : nullptr;
  part.cp_comm = grid.layout().cp > 1 ? &cp : nullptr;
  return part;
}

double Distributed::comm_seconds() const {
  return world.stats().total().seconds + tp.stats().total().seconds + dp.stats().total().seconds +
         pp.stats().total().seconds + cp.stats().total().seconds + grad.stats().total().seconds;
}

double Distributed::comm_cpu_seconds() const {
  const std::initializer_list<const parallel::Communicator*> groups = {&world, &tp, &dp,
                                                                       &pp,    &cp, &grad};
  double total = 0;
  for (const parallel::Communicator* c : groups) total += c->stats().total().cpu_seconds;
  return total;
}

void Distributed::reset_comm_stats() {
  world.reset_stats();
  tp.reset_stats();
  dp.reset_stats();
  pp.reset_stats();
  cp.reset_stats();
  grad.reset_stats();
}

}  // namespace pha::launch
