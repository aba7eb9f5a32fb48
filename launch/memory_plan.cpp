#include "launch/memory_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>

#include "core/cpu/cpu_backend.h"
#include "launch/distributed.h"
#include "launch/flops.h"
#include "launch/grad_sync.h"
#include "launch/grad_window_reduce.h"
#include "layers/model.h"
#include "layers/scratch_layout.h"
#include "optim/adamw.h"
#include "parallel/mpi_communicator.h"

namespace pha::launch {

namespace {

size_t aligned_bytes(const TensorSpec& e) {
  const size_t a = SizeTable::kAlignment;
  return (static_cast<size_t>(e.shape.numel()) * dtype_size(e.dtype) + a - 1) / a * a;
}

// Where an activation is named: "layers.3.attn.q" -> attention, "x.2" -> stream, ...
std::string branch_of(const std::string& name) {
  if (name.rfind("head.", 0) == 0) return "head";
  if (name.rfind("x.", 0) == 0) return "stream";
  if (name.rfind("layers.", 0) != 0) return "inputs";
  const size_t first = name.find('.', 7);
  const size_t second = name.find('.', first + 1);
  const std::string part =
      second == std::string::npos ? "" : name.substr(first + 1, second - first - 1);
  if (part == "attn") return "attention";
  if (part == "gss" || part == "ffn" || part == "mixer") return part;
  return "block";
}

double mib(size_t bytes) {
  return static_cast<double>(bytes) / 1048576.0;
}

}  // namespace

size_t RankMemory::total() const {
  return parameters + gradients + grad_window + compute + optimizer + activations + scratch +
         comm();
}

std::string RankMemory::arena_fields() const {
  return fmt::format(
      "parameters {} gradients {} grad_window {} compute {} optimizer {} activations {} scratch "
      "{} comm_buffers {}",
      parameters, gradients, grad_window, compute, optimizer, activations, scratch, comm_buffers);
}

std::string RankMemory::fields() const {
  return fmt::format("{} comm_in_flight {} comm {} total {}", arena_fields(), comm_in_flight,
                     comm(), total());
}

size_t comm_in_flight_bytes(const TrainConfig& cfg, const ModelPart& part,
                            const parallel::Layout& layout, int zero, const PlannedTables& t) {
  if (cfg.train.device != "cpu") return 0;
  using parallel::MpiCommunicator;
  size_t dp = 0;
  if (layout.dp * layout.cp > 1 && zero == 2) {
    PHA_REQUIRE(t.window, "plan: ZeRO-2 needs the model part's gradient window");
    dp = MpiCommunicator::reduce_scatter_copies * GradWindowReduce::max_in_flight_bytes(*t.window);
    for (const GradGroup& kept : t.window->kept) {
      const auto [begin, end] = t.window->region(kept);
      dp = std::max(dp, MpiCommunicator::all_reduce_copies * (end - begin));
    }
  } else if (layout.dp * layout.cp > 1) {
    // The gradient arena's buckets (GradientSync's), parallel.grad_buckets_in_flight at once.
    dp = MpiCommunicator::all_reduce_copies *
         GradBuckets::max_in_flight_bytes(t.param_bytes, dtype_size(t.params.entries().at(0).dtype),
                                          GradBuckets::kBucketElements,
                                          cfg.parallel.grad_buckets_in_flight);
  }
  size_t tp = 0;
  if (part.tp.size > 1) {
    // [B, T, d] block outputs and input gradients, and GSS's [B, T, H] d_y (layers/*.cpp).
    const Precision precision = Precision::parse(cfg.train.precision);
    const size_t element = dtype_size(precision.act);
    // Under cp each rank holds T / cp positions of each sequence.
    tp = static_cast<size_t>(cfg.train.batch_size * (cfg.train.seq_len / layout.cp) * cfg.model.d) *
         element;
    for (const TensorSpec& e : t.scratch.entries())
      if (e.name.size() >= 7 && e.name.compare(e.name.size() - 7, 7, "gss.d_y") == 0)
        tp = std::max(tp, aligned_bytes(e));
    tp *= MpiCommunicator::all_reduce_copies;
  }
  return dp + tp;
}

size_t LayoutPlan::max_rank_bytes() const {
  size_t most = 0;
  for (const RankMemory& r : ranks) most = std::max(most, r.total());
  return most;
}

LayoutPlan plan_layout(const TrainConfig& cfg, parallel::Layout layout, int zero,
                       int64_t micro_batches) {
  PHA_REQUIRE(layout.dp >= 1 && layout.tp >= 1 && layout.pp >= 1 && layout.cp >= 1,
              "plan: the layout {} needs every size >= 1", layout.str());
  PHA_REQUIRE(cfg.train.seq_len % (2 * layout.cp) == 0,
              "plan: cp = {} splits each sequence into {} chunks, but train.seq_len = {} is not "
              "divisible by {}",
              layout.cp, 2 * layout.cp, cfg.train.seq_len, 2 * layout.cp);
  PHA_REQUIRE(micro_batches >= 1, "plan: {} micro-batches per step", micro_batches);
  validate_model_layout(layout, cfg.model);
  LayoutPlan plan;
  plan.layout = layout;
  // Gradients are averaged, and ZeRO shards, over the dp x cp ranks holding the same parameters.
  const int grad_ranks = layout.dp * layout.cp;
  plan.zero = grad_ranks > 1 ? zero : 0;
  plan.micro_batches = micro_batches;
  const Precision precision = Precision::parse(cfg.train.precision);
  const int64_t B = cfg.train.batch_size, T = cfg.train.seq_len;
  CpuBackend names_only;                                // the declare pass allocates nothing
  std::map<std::pair<int, int>, PlannedTables> tables;  // by (tp, pp): dp, cp ranks are alike
  for (int rank = 0; rank < layout.world_size(); ++rank) {
    const parallel::GridCoord coord = parallel::coord_of(layout, rank);
    ModelPart part = GradientSync::with_grad_window(
        model_part_at(layout, coord, cfg.model, static_cast<int>(micro_batches)), plan.zero,
        grad_ranks);
    part.recompute = parse_recompute(cfg.train.recompute);
    part.head_chunk_rows = cfg.train.head_chunk_rows;
    auto it = tables.find({coord.tp, coord.pp});
    if (it == tables.end())
      it = tables
               .emplace(std::pair{coord.tp, coord.pp},
                        Model::plan_tables(names_only, cfg.model, B, T, precision, part))
               .first;
    const PlannedTables& t = it->second;
    RankMemory r;
    r.rank = rank;
    r.coord = coord;
    r.parameters = t.master_bytes;
    r.gradients = t.param_bytes;
    plan.flat_param_bytes = std::max(plan.flat_param_bytes, t.param_bytes);
    if (part.grad_window) {
      r.gradients = GradWindowReduce::shard_table(t.params, grad_ranks).total_bytes();
      r.grad_window = t.grad_bytes;
    }
    r.compute = t.compute_bytes;
    r.optimizer = AdamW::state_bytes(
        t.params, plan.zero
                      ? ZeroShard{grad_ranks, coord.cp + layout.cp * coord.dp}.ranges(t.params)
                      : std::vector<ElementRange>{});
    r.activations = t.acts.total_bytes() * static_cast<size_t>(t.slots) + t.recompute.total_bytes();
    std::map<std::string, size_t> by_branch;
    for (const TensorSpec& e : t.acts.entries())
      by_branch[branch_of(e.name)] += aligned_bytes(e) * static_cast<size_t>(t.slots);
    for (const char* b : {"attention", "gss", "ffn", "mixer", "block", "stream", "head", "inputs"})
      if (by_branch.count(b)) r.activations_by_branch.emplace_back(b, by_branch[b]);
    // One layer's recomputed activations, shared by every layer and slot.
    if (t.recompute.size())
      r.activations_by_branch.emplace_back("recompute buffer", t.recompute.total_bytes());
    r.scratch = scratch_layout(t.scratch).bytes;
    for (const TensorSpec& e : t.scratch.entries())
      if (e.name.rfind("cp.", 0) == 0) r.context_buffers += aligned_bytes(e);
    r.comm_buffers =
        GradientSync::staging_table(cfg.model, part, layout.pp, t.params).total_bytes();
    r.comm_in_flight = comm_in_flight_bytes(cfg, part, layout, plan.zero, t);
    plan.ranks.push_back(std::move(r));
  }
  const double tokens = static_cast<double>(B * T) * static_cast<double>(micro_batches * layout.dp);
  plan.flops_per_step = train_flops_per_token(cfg.model, T) * tokens;
  plan.recompute = parse_recompute(cfg.train.recompute);
  plan.recompute_flops_per_step = recompute_flops_per_token(cfg.model, T, plan.recompute) * tokens;
  return plan;
}

std::string format_plan(const LayoutPlan& plan, const TrainConfig& cfg) {
  const parallel::Layout& L = plan.layout;
  std::string out = fmt::format(
      "plan: {}{} | {} micro-batches of {} x {} tokens per dp rank | {} | model FLOPs per step "
      "{:.3e} ({:.3e} per rank) | recompute {}{}\n",
      L.str(), plan.zero ? fmt::format(" (ZeRO-{})", plan.zero) : "", plan.micro_batches,
      cfg.train.batch_size, cfg.train.seq_len, cfg.train.precision, plan.flops_per_step,
      plan.flops_per_step / L.world_size(), recompute_name(plan.recompute),
      plan.recompute == Recompute::none
          ? ""
          : fmt::format(" (+{:.3e} FLOPs per step)", plan.recompute_flops_per_step));
  // Large layouts: one rank per (tp, pp) position (dp ranks differ by alignment bytes at most).
  const bool all = L.world_size() <= 16;
  for (const RankMemory& r : plan.ranks) {
    if (!all && (r.coord.dp != 0 || r.coord.cp != 0)) continue;
    out += fmt::format("plan rank {} (dp {} tp {} pp {}{}): {} ({:.1f} MiB)\n", r.rank, r.coord.dp,
                       r.coord.tp, r.coord.pp, L.cp > 1 ? fmt::format(" cp {}", r.coord.cp) : "",
                       r.fields(), mib(r.total()));
    std::string branches;
    for (const auto& [name, bytes] : r.activations_by_branch)
      branches += fmt::format("{}{} {:.2f}", branches.empty() ? "" : " | ", name, mib(bytes));
    out += fmt::format("  activations by branch (MiB, all slots): {}\n", branches);
    if (r.context_buffers)
      out += fmt::format("  context-parallel ring buffers (part of scratch): {:.2f} MiB\n",
                         mib(r.context_buffers));
  }
  if (!all) out += "  (dp ranks > 0 hold the same as dp rank 0, up to alignment bytes)\n";
  out += fmt::format(
      "  most per rank: {:.1f} MiB (comm_in_flight: MPI's temporaries of the collectives in "
      "flight at once, modelled, not an arena); not counted: the backend's op workspaces (FFT "
      "buffers, attention score rows: grown in the first step) and MPI's fixed buffers\n",
      mib(plan.max_rank_bytes()));
  return out;
}

RankMemory allocated_memory(const Model& model, const AdamW& optimizer, const GradientSync& sync) {
  RankMemory r;
  const MemoryFigures m = model.memory();
  r.parameters = model.master_bytes();
  r.gradients = sync.gradient_bytes(model);
  r.grad_window = model.grad_window() ? model.grads().bytes() : 0;
  r.compute = model.compute_copies().bytes();
  r.optimizer = optimizer.state().bytes();
  r.activations = m.activation_bytes;
  r.scratch = m.scratch_bytes;
  r.comm_buffers = sync.staging().bytes();
  return r;
}

double modelled_step_seconds(const LayoutPlan& plan, const TrainConfig& cfg, double peak_flops,
                             double bandwidth) {
  const parallel::Layout& L = plan.layout;
  const double m = static_cast<double>(plan.micro_batches);
  const double compute =
      (plan.flops_per_step + plan.recompute_flops_per_step) / (L.world_size() * peak_flops);
  const double bubble = (m + L.pp - 1) / m;  // 1F1B: (m + pp - 1) slots for m micro-batches
  const double act_bytes =
      static_cast<double>(cfg.train.batch_size * cfg.train.seq_len * cfg.model.d) *
      static_cast<double>(dtype_size(Precision::parse(cfg.train.precision).act));
  const double layers = static_cast<double>(cfg.model.n_layers) / L.pp;
  // tp: 2 all-reduces of the block's output in forward and 2 in backward per layer and
  // micro-batch, ring all-reduce 2 (tp-1)/tp of the bytes.
  const double tp = L.tp > 1 ? 4.0 * layers * m * act_bytes * 2.0 * (L.tp - 1) / L.tp : 0.0;
  // pp: one activation forward and one gradient backward per micro-batch.
  const double pp = L.pp > 1 ? 2.0 * m * act_bytes / L.cp : 0.0;
  // cp: every rank receives the other ranks' keys and values (GSS: zn) once forward, twice
  // backward (again, and their gradients), per layer and micro-batch: about 3 x (cp-1)/cp of
  // the [B, T, 2 n_kv d_h + H] values.
  const double kv_bytes =
      static_cast<double>(cfg.train.batch_size * cfg.train.seq_len *
                          (2 * cfg.model.n_kv * cfg.model.head_dim() + cfg.model.gss_h)) *
      static_cast<double>(dtype_size(Precision::parse(cfg.train.precision).act)) / L.tp;
  const double cp = L.cp > 1 ? 3.0 * layers * m * kv_bytes * (L.cp - 1) / L.cp : 0.0;
  // dp: all-reduce 2 (dp-1)/dp of the gradients; ZeRO-1 adds the parameters' all-gather
  // ((dp-1)/dp); ZeRO-2 reduce-scatters every micro-batch's gradients group by group ((dp-1)/dp
  // each: grad_window_reduce.h; twice that on NCCL) and all-gathers the parameters once.
  const double params = static_cast<double>(plan.flat_param_bytes);
  const double ring = static_cast<double>(L.dp * L.cp - 1) / (L.dp * L.cp);
  const double passes = plan.zero == 2 ? m + 1.0 : plan.zero == 1 ? 3.0 : 2.0;
  const double dp = params * ring * passes;
  return compute * bubble + (tp + pp + dp + cp) / bandwidth;
}

std::vector<Candidate> rank_layouts(const TrainConfig& cfg, int ranks, double peak_flops,
                                    double bandwidth) {
  PHA_REQUIRE(ranks >= 1, "plan: --ranks {} must be >= 1", ranks);
  const int64_t B = cfg.train.batch_size;
  const int64_t global = B * cfg.train.grad_accum * std::max<int64_t>(1, cfg.parallel.dp);
  std::vector<Candidate> out;
  for (int tp = 1; tp <= ranks; ++tp)
    for (int pp = 1; tp * pp <= ranks; ++pp)
      for (int cp = 1; tp * pp * cp <= ranks; ++cp) {
        if (ranks % (tp * pp * cp) != 0) continue;
        if (cfg.train.seq_len % (2 * cp) != 0) continue;
        if (cp > 1 && cfg.train.device != "cpu") continue;  // context parallelism: CPU only
        const int dp = ranks / (tp * pp * cp);
        if (global % (B * dp) != 0) continue;  // the global batch must split into micro-batches
        const parallel::Layout layout{dp, tp, pp, cp};
        try {
          validate_model_layout(layout, cfg.model);
        } catch (const Error&) {
          continue;
        }
        for (const Recompute recompute : {Recompute::none, Recompute::selective, Recompute::full})
          for (int zero = 0; zero <= (dp * cp > 1 ? 2 : 0); ++zero) {
            TrainConfig with = cfg;
            with.train.recompute = recompute_name(recompute);
            Candidate c{plan_layout(with, layout, zero, global / (B * dp)), 0};
            c.seconds = modelled_step_seconds(c.plan, with, peak_flops, bandwidth);
            out.push_back(std::move(c));
          }
      }
  std::stable_sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
    if (a.seconds != b.seconds) return a.seconds < b.seconds;
    return a.plan.max_rank_bytes() < b.plan.max_rank_bytes();
  });
  return out;
}

size_t parse_bytes(const std::string& text) {
  static const std::regex pattern(R"(\s*([0-9]*\.?[0-9]+)\s*([kKmMgGtT]?)(i?)([bB]?)\s*)");
  std::smatch m;
  PHA_REQUIRE(std::regex_match(text, m, pattern),
              "'{}' is not a size: write bytes or a number with a unit, e.g. 2GiB, 512MiB, 3GB",
              text);
  const double value = std::stod(m[1].str());
  const std::string unit = m[2].str();
  // KiB/MiB/GiB and bare K/M/G are binary; KB/MB/GB decimal.
  const bool decimal = !unit.empty() && m[3].str().empty() && !m[4].str().empty();
  const double base = decimal ? 1000.0 : 1024.0;
  const std::string units = "kmgt";
  const double scale =
      unit.empty()
          ? 1.0
          : std::pow(base,
                     static_cast<double>(units.find(static_cast<char>(std::tolower(unit[0]))) + 1));
  return static_cast<size_t>(value * scale);
}

}  // namespace pha::launch
