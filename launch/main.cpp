// pha: the command-line entry point. Dispatches to the command table; every error is printed once.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/cpu/blas_kernel.h"
#include "core/cpu/cpu_features.h"
#include "core/error.h"
#include "core/fatal_signal.h"
#include "core/version.h"
#include "launch/command_table.h"

namespace {

// Before MPI_Init the rank is known only from the launcher's environment ("" without one).
std::string launcher_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"})
    if (const char* v = std::getenv(name)) return v;
  return "";
}

// Errors before MPI_Init print once: on the launcher's rank 0, or when there is no launcher.
bool launcher_rank0() {
  const std::string rank = launcher_rank();
  return rank.empty() || rank == "0";
}

// "rank 3 (host n2)", or "pid 123 (host n2)" without a launcher: who a crash report names.
std::string process_name() {
  char host[256] = "?";
  gethostname(host, sizeof(host) - 1);
  const std::string rank = launcher_rank();
  return fmt::format("{} ({})", rank.empty() ? fmt::format("pid {}", getpid()) : "rank " + rank,
                     std::string("host ") + host);
}

}  // namespace

int main(int argc, char** argv) {
  // Every log line reaches a file or pipe (a Slurm log, `| tee`) when it is written, not when a
  // 4 KiB block fills or the process exits: stdout is line-buffered whatever it is connected to
  // (stderr is unbuffered already).
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  pha::install_fatal_signal_report(process_name());
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
