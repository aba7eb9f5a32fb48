// `pha plan`: per-rank memory and FLOPs of a layout from the size tables, before anything is
// allocated; with --memory-per-rank and --ranks, the layouts of that many ranks ranked by the cost
// model (memory_plan.h) and the fastest that fits.
#include <fmt/format.h>

#include <iostream>

#include "launch/commands.h"
#include "launch/memory_plan.h"

namespace pha::launch {

namespace {

struct PlanOptions {
  std::string memory_per_rank;  // empty: no suggestion
  int ranks = 0;                // 0: the layout's own world size
  double peak_gflops = 100;     // per rank, for the cost model
  double bandwidth_gbs = 10;    // per rank, for the cost model
};

const char* kPlanHelp =
    "pha plan [pha train's options: --config FILE, --tp N, --pp N, --dp N, --cp N, --zero1, "
    "--zero2, --recompute R, "
    "--section.key=value ...]\n"
    "         [--memory-per-rank SIZE --ranks N] [--peak-gflops G] [--bandwidth-gbs B]\n"
    "Prints what every rank allocates (parameters, gradients (1/dp with --zero2, plus its\n"
    "reusable gradient window), optimizer, activations by branch, scratch, communication\n"
    "buffers) and the FLOPs of a step, from the size tables (nothing is\n"
    "allocated). With --memory-per-rank (e.g. 2GiB) and --ranks, ranks every layout of N ranks\n"
    "(dp x tp x pp x cp, ZeRO 0/1/2, recompute none/selective/full, same global batch) by the\n"
    "cost model and plans the fastest that fits. Cost model: compute (recomputation's included) "
    "at\n"
    "--peak-gflops per rank (default 100) stretched by the 1F1B\n"
    "bubble, plus tp, pp, dp and cp traffic at --bandwidth-gbs per rank (default 10); "
    "docs/cli.md.\n";

// Takes the plan's own options out of `args`; the rest are pha train's.
std::vector<std::string> take_plan_options(const std::vector<std::string>& args, PlanOptions& o) {
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool taken = false;
    for (const char* key : {"--memory-per-rank", "--ranks", "--peak-gflops", "--bandwidth-gbs"}) {
      std::string value;
      if (a == key) {
        PHA_REQUIRE(i + 1 < args.size(), "{} needs a value", key);
        value = args[++i];
      } else if (a.rfind(std::string(key) + "=", 0) == 0) {
        value = a.substr(std::string(key).size() + 1);
      } else {
        continue;
      }
      taken = true;
      try {
        if (a.rfind("--memory-per-rank", 0) == 0) o.memory_per_rank = value;
        if (a.rfind("--ranks", 0) == 0) o.ranks = std::stoi(value);
        if (a.rfind("--peak-gflops", 0) == 0) o.peak_gflops = std::stod(value);
        if (a.rfind("--bandwidth-gbs", 0) == 0) o.bandwidth_gbs = std::stod(value);
      } catch (const std::logic_error&) {
        fail("{} = '{}' is not a number", key, value);
      }
    }
    if (!taken) rest.push_back(a);
  }
  PHA_REQUIRE(o.peak_gflops > 0 && o.bandwidth_gbs > 0,
              "--peak-gflops and --bandwidth-gbs must be positive");
  return rest;
}

int suggest(const TrainConfig& cfg, const PlanOptions& o) {
  PHA_REQUIRE(o.ranks >= 1, "--memory-per-rank needs --ranks N (how many ranks to plan for)");
  const size_t budget = parse_bytes(o.memory_per_rank);
  const std::vector<Candidate> all =
      rank_layouts(cfg, o.ranks, o.peak_gflops * 1e9, o.bandwidth_gbs * 1e9);
  PHA_REQUIRE(!all.empty(),
              "no layout of {} ranks fits the model and the global batch of {} sequences: change "
              "--ranks, train.batch_size or train.grad_accum",
              o.ranks,
              cfg.train.batch_size * cfg.train.grad_accum * std::max<int64_t>(1, cfg.parallel.dp));
  fmt::print(
      "layouts of {} ranks, fastest first by the cost model ({} GFLOP/s and {} GB/s per rank):\n",
      o.ranks, o.peak_gflops, o.bandwidth_gbs);
  const Candidate* best = nullptr;
  for (const Candidate& c : all) {
    const bool fits = c.plan.max_rank_bytes() <= budget;
    if (fits && !best) best = &c;
    fmt::print(
        "  {:<22} {:<7} recompute {:<9} modelled step {:.4f} s | most per rank {:.1f} MiB{}\n",
        c.plan.layout.str(), c.plan.zero ? fmt::format("ZeRO-{}", c.plan.zero) : "-",
        recompute_name(c.plan.recompute), c.seconds,
        static_cast<double>(c.plan.max_rank_bytes()) / 1048576.0, fits ? "" : " (does not fit)");
  }
  if (!best) {
    size_t least = SIZE_MAX;
    for (const Candidate& c : all) least = std::min(least, c.plan.max_rank_bytes());
    fail(
        "no layout of {} ranks fits {} per rank: the smallest needs {:.1f} MiB; use more ranks, "
        "a smaller batch or sequence, or more memory",
        o.ranks, o.memory_per_rank, static_cast<double>(least) / 1048576.0);
  }
  const parallel::Layout& L = best->plan.layout;
  fmt::print("suggested: --dp {} --tp {} --pp {}{}{} --recompute {} --train.grad_accum={}\n", L.dp,
             L.tp, L.pp, L.cp > 1 ? fmt::format(" --cp {}", L.cp) : "",
             best->plan.zero ? fmt::format(" --zero{}", best->plan.zero) : "",
             recompute_name(best->plan.recompute), best->plan.micro_batches);
  TrainConfig chosen = cfg;
  chosen.train.recompute = recompute_name(best->plan.recompute);
  fmt::print("{}", format_plan(best->plan, chosen));
  return 0;
}

}  // namespace

int run_plan(const std::vector<std::string>& args) {
  try {
    for (const std::string& a : args)
      if (a == "--help" || a == "-h") {
        std::cout << kPlanHelp;
        return 0;
      }
    PlanOptions o;
    TrainConfig cfg;
    if (!parse_train_args(take_plan_options(args, o), cfg)) return 0;
    if (!o.memory_per_rank.empty()) return suggest(cfg, o);
    const int64_t tp = cfg.parallel.tp, pp = cfg.parallel.pp, cp = cfg.parallel.cp;
    int64_t dp = cfg.parallel.dp;
    if (dp == 0) {  // as pha train: the world (here --ranks) over tp x pp x cp
      PHA_REQUIRE(o.ranks == 0 || o.ranks % (tp * pp * cp) == 0,
                  "--ranks {} is not divisible by tp x pp x cp = {}", o.ranks, tp * pp * cp);
      dp = o.ranks > 0 ? o.ranks / (tp * pp * cp) : 1;
    }
    const parallel::Layout layout{static_cast<int>(dp), static_cast<int>(tp), static_cast<int>(pp),
                                  static_cast<int>(cp)};
    fmt::print(
        "{}", format_plan(plan_layout(cfg, layout, cfg.parallel.zero_stage(), cfg.train.grad_accum),
                          cfg));
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "pha plan: error: {}\n", e.what());
    return 1;
  }
}

}  // namespace pha::launch
