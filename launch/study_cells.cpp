#include "launch/study_cells.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "launch/flops.h"
#include "launch/memory_plan.h"
#include "layers/model.h"

namespace fs = std::filesystem;

namespace pha::launch {
namespace {

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// pha train's arguments of one cell: study defaults, then the study file's train keys, then what
// the cell fixes (later values win).
std::vector<std::string> cell_args(const StudySpec& spec, const StudyGrid& grid,
                                   const StudySize& size, const ModelConfig& m,
                                   const StudyData& data, int64_t T, int64_t seed,
                                   const std::string& dir) {
  const int64_t R = spec.ranks;
  std::vector<std::string> a = {"--train.keep_last=1", "--run.tensorboard=false"};
  for (const auto& [key, value] : spec.train_keys) a.push_back(fmt::format("--{}={}", key, value));
  int64_t batch = 0, steps = 0, eval_every = 0, eval_batches = 1, warmup = 1;
  if (grid.throughput) {
    batch = std::max<int64_t>(1, grid.batch_tokens / (T * R));
    steps = grid.steps;
  } else {
    PHA_REQUIRE(grid.batch_tokens % (T * R) == 0,
                "batch_tokens = {} is not divisible by seq_len {} x ranks {}: a step must hold "
                "whole sequences on every rank",
                grid.batch_tokens, T, R);
    batch = grid.batch_tokens / (T * R);
    const StudyBudget& b = grid.budget.set()   ? grid.budget
                           : size.budget.set() ? size.budget
                                               : spec.budget;
    const double tokens =
        b.tokens > 0 ? double(b.tokens) : double(b.text_bytes) / data.train_bytes_per_token();
    steps = std::max<int64_t>(1, std::llround(tokens / double(grid.batch_tokens)));
    eval_every = ceil_div(steps, spec.evals);  // at most `evals` evaluations, the last at the end
    const double eval_tokens = double(spec.eval_bytes) / data.eval_bytes_per_token();
    eval_batches = std::max<int64_t>(1, ceil_div(std::llround(eval_tokens), batch * T * R));
    warmup = std::clamp<int64_t>(std::llround(spec.warmup_fraction * double(steps)), 1, steps);
  }
  if (!size.preset.empty()) a.push_back("--model.preset=" + size.preset);
  const std::string block = m.block.str();
  for (const auto& [key, v] :
       std::vector<std::pair<const char*, int64_t>>{{"d", m.d},
                                                    {"n_layers", m.n_layers},
                                                    {"n_q", m.n_q},
                                                    {"n_kv", m.n_kv},
                                                    {"d_h", m.d_h},
                                                    {"d_ff", m.d_ff},
                                                    {"gss_f", m.gss_f},
                                                    {"gss_h", m.gss_h},
                                                    {"dss_n", m.dss_n},
                                                    {"attn_window", m.attn_window},
                                                    {"vocab", data.vocab},
                                                    {"max_seq_len", T}})
    a.push_back(fmt::format("--model.{}={}", key, v));
  a.push_back("--model.block=" + block);
  a.push_back("--model.mixer=" + mixer_name(m.mixer));
  for (const auto& [key, v] : std::vector<std::pair<const char*, int64_t>>{
           {"train.seq_len", T},
           {"train.batch_size", batch},
           {"train.grad_accum", 1},
           {"train.steps", steps},
           {"train.seed", seed},
           {"train.warmup", warmup},
           {"train.eval_every", eval_every},
           {"train.eval_batches", eval_batches},
           {"train.ckpt_every", grid.throughput ? 0 : eval_every},
           {"train.log_every", std::max<int64_t>(1, steps / 20)},
           {"train.threads", spec.threads},
           {"parallel.dp", R}})
    a.push_back(fmt::format("--{}={}", key, v));
  a.push_back("--data.train=" + fs::absolute(data.train_shard).lexically_normal().string());
  a.push_back("--data.val=" + fs::absolute(data.eval_shard).lexically_normal().string());
  a.push_back("--run.dir=" + dir);
  return a;
}

}  // namespace

std::vector<StudyCell> expand_study(const StudySpec& spec,
                                    const std::map<std::string, StudyData>& data) {
  std::vector<StudyCell> cells;
  std::set<std::string> seen;
  const fs::path cells_dir = fs::absolute(spec.dir).lexically_normal() / "cells";
  for (const StudyGrid& g : spec.grids)
    for (int64_t seed : g.seeds)
      for (const StudyTokenizer& tok : g.tokenizers)
        for (const std::string& size_name : g.sizes)
          for (int64_t T : g.seq_lens)
            for (const StudyVariant& v : g.variants) {
              StudyCell c;
              c.id = fmt::format("{}{}-{}-{}-T{}-s{}", g.throughput ? "tp-" : "", tok.name,
                                 size_name, v.name, T, seed);
              if (!seen.insert(c.id).second) continue;
              c.dir = (cells_dir / c.id).string();
              c.grid = g.name, c.tokenizer = tok.name, c.size = size_name, c.variant = v.name;
              c.throughput = g.throughput;
              c.seq_len = T, c.seed = seed, c.ranks = spec.ranks;
              try {
                const StudySize& size = spec.size(size_name);
                const ModelConfig m = v.apply(size.model, size_name);
                const std::vector<std::string> args =
                    cell_args(spec, g, size, m, data.at(tok.name), T, seed, c.dir);
                PHA_REQUIRE(parse_train_args(args, c.cfg), "unexpected --help");
                c.ini = make_option_table(c.cfg).to_ini();
                c.params = count_parameters(c.cfg.model);
                c.flops_per_token = train_flops_per_token(c.cfg.model, T);
                const LayoutPlan plan =
                    plan_layout(c.cfg, parallel::Layout{static_cast<int>(spec.ranks), 1, 1}, 0, 1);
                c.plan_bytes = plan.ranks.at(0).total();
                c.plan_activations = plan.ranks.at(0).activations;
              } catch (const Error& e) {
                fail("{} [grid.{}], cell {}: {}", spec.file, g.name, c.id, e.what());
              }
              cells.push_back(std::move(c));
            }
  return cells;
}

}  // namespace pha::launch
