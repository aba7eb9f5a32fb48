#pragma once
// Ending the whole job from one rank: a failing rank must never leave the others hanging.
#include <mpi.h>

#include <string>

namespace pha::parallel {

// Exit code of a job ended by abort_job (mpirun reports it).
inline constexpr int abort_exit_code = 3;

// Prints "rank R: <reason> (host H)" to stderr (once, even if called again while aborting) and ends
// every rank with MPI_Abort(MPI_COMM_WORLD). Without an initialised MPI it exits this process.
[[noreturn]] void abort_job(int rank, const std::string& reason);

// This process's rank in MPI_COMM_WORLD, or 0 when MPI is not initialised (or already finalized).
int world_rank();

// Aborts the job naming the call and MPI's error string when rc is not MPI_SUCCESS. Used on
// communicators whose error handler is MPI_ERRORS_RETURN, so a failure comes back as a code.
void check_mpi(int rc, const std::string& call);

}  // namespace pha::parallel
