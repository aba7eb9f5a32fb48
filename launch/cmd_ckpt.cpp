// `pha ckpt inspect PATH` lists what a checkpoint holds; `pha ckpt verify PATH` checks every
// dataset's checksum and the commit marker. One process, no MPI launcher needed.
#include <fmt/format.h>

#include <iostream>
#include <sstream>

#include "io/checkpoint.h"
#include "launch/commands.h"

namespace pha::launch {

namespace {

int inspect_command(const std::string& path, bool whole_config) {
  const ckpt::Inspection r = ckpt::inspect(path);
  fmt::print(
      "checkpoint {}\n  format {} | step {} | tokens {} | next sample {} | seed {}\n"
      "  written by pha {} on layout {} at {} | {}\n",
      r.file, r.format_version, r.state.step, r.state.tokens_seen, r.state.next_sample,
      r.state.seed, r.state.program_version, r.state.layout, r.created,
      r.committed ? "COMMITTED" : "NOT committed");
  std::istringstream config(r.state.config_ini);
  std::string line;
  fmt::print("  configuration:\n");
  for (int n = 0; std::getline(config, line); ++n) {
    if (!whole_config && n == 12) {
      fmt::print("    ... (--config prints all of it)\n");
      break;
    }
    fmt::print("    {}\n", line);
  }
  size_t total = 0;
  fmt::print("  {:<44} {:>16} {:>10}  checksum\n", "dataset", "shape", "MiB");
  for (const auto& d : r.datasets) {
    fmt::print("  {:<44} {:>16} {:>10.3f}  {}\n", d.name, d.shape.str(), d.bytes / 1048576.0,
               d.checksum_ok ? "ok" : "BAD: " + d.problem);
    total += d.bytes;
  }
  fmt::print("  {} datasets, {:.1f} MiB, {}\n", r.datasets.size(), total / 1048576.0,
             r.intact() ? "intact" : "DAMAGED: " + r.first_problem());
  return r.intact() ? 0 : 1;
}

int verify_command(const std::string& path) {
  const ckpt::Inspection r = ckpt::inspect(path);
  if (!r.intact()) {
    fmt::print(stderr, "pha ckpt verify: {} is damaged: {}\n", r.file, r.first_problem());
    return 1;
  }
  fmt::print("{}: intact (step {}, {} datasets, every checksum matches)\n", r.file, r.state.step,
             r.datasets.size());
  return 0;
}

}  // namespace

int run_ckpt(const std::vector<std::string>& args) {
  const std::string usage =
      "Usage: pha ckpt inspect PATH [--config]   list a checkpoint's state, configuration and "
      "datasets\n       pha ckpt verify PATH             check the commit marker and every "
      "checksum (exit 1 if damaged)\nPATH: a checkpoint directory (RUN/checkpoints/step_N) or its "
      "state.h5\n";
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    fmt::print("{}", usage);
    return args.empty() ? 2 : 0;
  }
  if (args.size() >= 2 && args[0] == "inspect")
    return inspect_command(args[1], args.size() > 2 && args[2] == "--config");
  if (args.size() == 2 && args[0] == "verify") return verify_command(args[1]);
  fmt::print(stderr, "pha ckpt: unknown arguments.\n{}", usage);
  return 2;
}

}  // namespace pha::launch
