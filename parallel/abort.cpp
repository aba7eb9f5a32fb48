#include "parallel/abort.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdio>
#include <cstdlib>

namespace pha::parallel {

namespace {

bool mpi_running() {
  int initialised = 0, finalized = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalized);
  return initialised && !finalized;
}

// On several nodes the host tells which machine to look at; "?" if the name cannot be read.
std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "?";
  return name;
}

}  // namespace

void abort_job(int rank, const std::string& reason) {
  static std::atomic<bool> aborting{false};
  if (!aborting.exchange(true)) {
    std::fputs(fmt::format("rank {}: {} (host {})\n", rank, reason, host_name()).c_str(), stderr);
    std::fflush(stderr);
  }
  if (mpi_running()) MPI_Abort(MPI_COMM_WORLD, abort_exit_code);
  // MPI_Abort does not return; this covers a process without MPI.
  std::_Exit(abort_exit_code);
}

int world_rank() {
  if (!mpi_running()) return 0;
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

void check_mpi(int rc, const std::string& call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(rc, text, &length) != MPI_SUCCESS) length = 0;
  abort_job(world_rank(), fmt::format("{} failed: {} (MPI error {})", call,
                                      std::string(text, static_cast<size_t>(length)), rc));
}

}  // namespace pha::parallel
