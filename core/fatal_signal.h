#pragma once
// A report for the signals that kill a process by its own fault (SIGSEGV, SIGBUS, SIGFPE,
// SIGILL): which rank on which host, the signal and address, and a backtrace whose frames
// `addr2line -e pha -f -C OFFSET` resolves. Open MPI's own handler prints only the frames its
// unwinder finds: a call through a null pointer (pc 0) left it at one libc frame, naming
// neither pha's function nor its caller. This one also prints the caller's return address read
// from the stack in that case. After the report the default action runs (the process dies by
// the same signal: Slurm and mpirun report it as before).
#include <string>

namespace pha {

// Installs the handlers (and keeps Open MPI from replacing them in MPI_Init: the MCA parameter
// opal_signal is set empty unless the user set it). `who` names the process in the report, e.g.
// "rank 3 (host n2)". Call once, before MPI_Init and before any other thread starts.
void install_fatal_signal_report(const std::string& who);

}  // namespace pha
