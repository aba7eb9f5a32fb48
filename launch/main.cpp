// pha: the command-line entry point. Dispatches to the command table; every error is printed once.
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/cpu/blas_kernel.h"
#include "core/cpu/cpu_features.h"
#include "core/error.h"
#include "core/version.h"
#include "launch/command_table.h"

namespace {

// Before MPI_Init the rank is known only from the launcher's environment: errors print once.
bool launcher_rank0() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"})
    if (const char* v = std::getenv(name)) return std::string(v) == "0";
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  // Every log line reaches a file or pipe (a Slurm log, `| tee`) when it is written, not when a
  // 4 KiB block fills or the process exits: stdout is line-buffered whatever it is connected to
  // (stderr is unbuffered already).
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (const std::string missing = pha::isa_missing_for_build(); !missing.empty()) {
    if (launcher_rank0())
      fmt::print(stderr,
                 "pha: error: this pha was built with -march={} and this CPU ({}) lacks {}: "
                 "rebuild on this machine, or a portable build for every node with cmake "
                 "-DPHA_NATIVE=OFF (-march=x86-64-v3; docs/slurm.md)\n",
                 pha::build_march(), pha::cpu_features().model, missing);
    return 2;
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    fmt::print("{}", pha::launch::top_level_help());
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    fmt::print("pha {}{}\n", PHA_VERSION, PHA_HAVE_CUDA_BUILD ? " (cpu, cuda)" : " (cpu)");
    return 0;
  }
  try {
    // Before any thread or MPI starts: may re-execute pha with a faster OpenBLAS kernel.
    pha::apply_blas_kernel_policy(argv);
  } catch (const std::exception& e) {
    if (launcher_rank0()) fmt::print(stderr, "pha: error: {}\n", e.what());
    return 2;
  }
  for (const auto& command : pha::launch::command_table()) {
    if (command.name != args[0]) continue;
    try {
      return command.run(std::vector<std::string>(args.begin() + 1, args.end()));
    } catch (const std::exception& e) {
      fmt::print(stderr, "pha {}: error: {}\n", command.name, e.what());
      return 1;
    }
  }
  fmt::print(stderr, "pha: unknown command '{}'. Run 'pha --help' for the list of commands.\n",
             args[0]);
  return 2;
}
