// `pha study FILE`: a whole comparison from one study file (docs/cli.md, "pha study"): prepares
// the data once, runs every unfinished cell as a `pha train` subprocess (or submits them as a
// Slurm job array), then writes STUDY_DIR/study.csv, study.md and the figures.
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "launch/command_options.h"
#include "launch/commands.h"
#include "launch/study_cells.h"
#include "launch/study_data.h"
#include "launch/study_results.h"
#include "launch/study_runner.h"
#include "launch/study_spec.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace pha::launch {
namespace {

struct StudyOptions {
  std::string file, dir, sbatch_args;
  bool list = false, collect = false, slurm = false, no_plot = false;
  std::vector<std::string> overrides;  // --section.key=value for every cell's pha train
};

bool is_train_override(const std::string& a) {
  const size_t eq = a.find('=');
  return a.rfind("--", 0) == 0 && eq != std::string::npos &&
         a.substr(0, eq).find('.') != std::string::npos;
}

bool parse_study_options(const std::vector<std::string>& args, StudyOptions& o) {
  po::options_description opts(
      "pha study FILE [--dir DIR] [--list | --collect | --slurm [--sbatch-args ARGS]]\n"
      "          [--no-plot] [--section.key=value ...]\n"
      "Runs the study of FILE (an INI file: corpus, tokenizers, sizes, variants, sequence\n"
      "lengths, budgets, seeds; docs/cli.md): prepares its data once, runs every unfinished cell\n"
      "as a pha train subprocess (finished cells are skipped, interrupted ones resume from their\n"
      "checkpoint), then writes DIR/study.csv, DIR/study.md and DIR/figures/*.png|svg.\n"
      "--section.key=value options go to every cell's pha train (e.g. --train.threads=1); they\n"
      "are not part of a cell's configuration");
  // clang-format off
  opts.add_options()
      ("help,h", "print this help")
      ("dir", po::value(&o.dir), "the study directory (default: the file's [study] dir)")
      ("list", po::bool_switch(&o.list), "list the cells, their sizes, FLOPs and status; run nothing")
      ("collect", po::bool_switch(&o.collect),
       "run nothing: write study.csv, study.md and the figures from the cells' results")
      ("slurm", po::bool_switch(&o.slurm),
       "submit the unfinished cells as a Slurm job array (sbatch) instead of running them here")
      ("sbatch-args", po::value(&o.sbatch_args),
       "more sbatch options for --slurm, e.g. \"--time=30 --partition=cpu\"")
      ("no-plot", po::bool_switch(&o.no_plot), "write study.csv only (no study.md, no figures)");
  // clang-format on
  std::vector<std::string> rest;
  for (const std::string& a : args) {
    if (is_train_override(a))
      o.overrides.push_back(a);
    else if (a.rfind("-", 0) != 0 && o.file.empty() && (rest.empty() || rest.back() != "--dir") &&
             (rest.empty() || rest.back() != "--sbatch-args"))
      o.file = a;
    else
      rest.push_back(a);
  }
  po::variables_map vm;
  if (!parse_command_options(opts, rest, vm)) return false;
  PHA_REQUIRE(!o.file.empty(), "no study file: pha study FILE (see pha study --help)");
  PHA_REQUIRE(int(o.list) + int(o.collect) + int(o.slurm) <= 1,
              "give at most one of --list, --collect and --slurm");
  return true;
}

// study.md and the figures, by tools/plot_study.py.
void report(const std::string& dir, bool no_plot) {
  if (no_plot) return;
  const std::string script = (fs::path(pha_home()) / "tools" / "plot_study.py").string();
  const std::string python = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  const int status = run_program(python, {script, dir});
  if (status != 0)
    fmt::print(stderr,
               "pha study: warning: {} {} {} exited with status {}: study.csv is complete, "
               "study.md and the figures are not\n",
               python, script, dir, status);
}

void print_cells(const std::vector<StudyCell>& cells) {
  fmt::print("{:<44} {:>9} {:>10} {:>6} {:>10} {:>9}  {}\n", "cell", "params", "FLOP/tok", "steps",
             "tokens", "plan MiB", "status");
  for (const StudyCell& c : cells)
    fmt::print("{:<44} {:>9} {:>10.4g} {:>6} {:>10} {:>9.1f}  {}\n", c.id, c.params,
               c.flops_per_token, c.cfg.train.steps, c.tokens(), double(c.plan_bytes) / 1048576.0,
               cell_status_name(cell_status(c)));
}

int run_study(const StudyOptions& o) {
  StudySpec spec = read_study_file(o.file);
  if (!o.dir.empty()) spec.dir = o.dir;
  fs::create_directories(spec.dir);
  if (!o.list && !o.collect) lock_study_dir(spec.dir);  // held until this process ends
  std::map<std::string, StudyData> data;
  for (const StudyGrid& g : spec.grids)
    for (const StudyTokenizer& t : g.tokenizers)
      if (!data.count(t.name)) data.emplace(t.name, prepare_study_data(spec, t));
  const std::vector<StudyCell> cells = expand_study(spec, data);
  std::vector<const StudyCell*> todo;
  for (const StudyCell& c : cells) {
    check_cell_config(c);
    if (cell_status(c) != CellStatus::done) todo.push_back(&c);
  }
  fmt::print("study {}: {} cells, {} finished, {} to run | {}\n", spec.name, cells.size(),
             cells.size() - todo.size(), todo.size(), fs::absolute(spec.dir).string());
  if (o.list) {
    print_cells(cells);
    return 0;
  }
  if (o.slurm) {
    if (todo.empty()) {
      fmt::print("study: nothing to submit; pha study {}{} --collect writes the results\n", o.file,
                 o.dir.empty() ? std::string() : " --dir " + o.dir);
      return 0;
    }
    const int status = submit_slurm(spec, todo, o.overrides, o.sbatch_args);
    PHA_REQUIRE(status == 0, "sbatch failed (status {}): see its message above", status);
    fmt::print(
        "study: submitted {} cells; when the array has ended, run pha study {}{} --collect\n",
        todo.size(), o.file, o.dir.empty() ? std::string() : " --dir " + o.dir);
    return 0;
  }
  int exit_status = 0;
  if (!o.collect) {
    install_study_signal_handlers();
    std::vector<std::string> failed;
    size_t n = 0;
    const auto study_start = std::chrono::steady_clock::now();
    const auto minutes_since = [](std::chrono::steady_clock::time_point t) {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count() / 60;
    };
    for (const StudyCell* c : todo) {
      ++n;
      const auto cell_start = std::chrono::steady_clock::now();
      fmt::print("study: [{}/{}] {} ({} params, {:.3g} FLOP/token, {} steps of {} tokens) ...\n", n,
                 todo.size(), c->id, c->params, c->flops_per_token, c->cfg.train.steps,
                 c->cfg.train.batch_size * c->seq_len * c->ranks);
      const int status = run_cell(spec, *c, o.overrides);
      const CellResult r = read_cell_result(*c, data.at(c->tokenizer));
      if (status == 0) {
        fmt::print(
            "study: [{}/{}] {} done in {:.1f} min ({:.1f} min so far): {:.0f} s of steps, {:.0f} "
            "tokens/s, peak {:.0f} MiB{}\n",
            n, todo.size(), c->id, minutes_since(cell_start), minutes_since(study_start),
            r.train_seconds, r.tokens_per_s, r.peak_rss_mib,
            c->throughput ? std::string()
                          : fmt::format(", val loss {:.4f}, ppl {:.2f}, {:.4f} bits/byte",
                                        r.val_loss, std::exp(r.val_loss), r.bits_per_byte));
      } else if (status == 75 || interrupted()) {
        fmt::print(
            "study: {} was interrupted after step {} (checkpoint written; status {}): run the "
            "same command again to resume it\n",
            c->id, r.steps, status);
        exit_status = 75;
        break;
      } else if (status == 127) {
        fail("cannot start pha train for {} (status 127): see {}/train.log", c->id, c->dir);
      } else {
        fmt::print("study: {} FAILED with status {}: see {}/train.log; going on with the rest\n",
                   c->id, status, c->dir);
        failed.push_back(c->id);
      }
    }
    if (!failed.empty()) {
      fmt::print(stderr, "pha study: {} cell(s) failed: {} (their logs: CELL/train.log)\n",
                 failed.size(), fmt::join(failed, ", "));
      exit_status = 1;
    }
  }
  const std::string csv = write_study_csv(spec.dir, cells, data);
  fmt::print("study: wrote {}\n", csv);
  report(spec.dir, o.no_plot);
  return exit_status;
}

}  // namespace

int run_study(const std::vector<std::string>& args) {
  try {
    StudyOptions o;
    if (!parse_study_options(args, o)) return 0;
    return run_study(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "pha study: error: {}\n", e.what());
    return 1;
  }
}

}  // namespace pha::launch
