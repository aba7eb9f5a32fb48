#pragma once
// Which OpenBLAS kernel runs, and the policy that makes it the fastest one the CPU has.
//
// OpenBLAS 0.3.21 picks its kernel once, when the library loads, from cpuid or from
// OPENBLAS_CORETYPE. Processors newer than the library (AMD Zen 4/5, recent Xeons) are not
// recognised and fall back to the SSE3 "Prescott" kernel at a third of the AVX-512 speed
// (docs/results.md). Since the choice is made at load time, the policy re-executes the process
// with OPENBLAS_CORETYPE set, before MPI starts (the pid, the arguments and the environment stay,
// so mpirun and srun see the same process).
//
// PHA_BLAS_CORETYPE selects the policy:
//   auto (default)  OPENBLAS_CORETYPE unset: use the best kernel for the CPU if OpenBLAS chose
//                   a slower one it knows (Prescott, Haswell, Cooperlake on AVX-512).
//                   OPENBLAS_CORETYPE set by the user: keep it, and note the faster choice.
//   keep            never change the kernel.
//   best            the best kernel for the CPU, even over the user's OPENBLAS_CORETYPE.
//   <name>          an OpenBLAS core name (Haswell, SkylakeX, Cooperlake, ...): use it.
#include <string>

#include "core/cpu/cpu_features.h"

namespace pha {

// The OpenBLAS kernel in use, e.g. "Haswell" (openblas_get_corename, capitalised as
// OPENBLAS_CORETYPE spells it).
std::string blas_kernel_name();
// "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY ..." (openblas_get_config).
std::string blas_library();
// How OpenBLAS runs its threads (openblas_get_parallel): "OpenMP" (pha's own OpenMP pool, the
// build CMake links when libopenblas-openmp-dev is installed), "pthreads" (a second pool, whose
// threads spin after each call and slow pha's OpenMP ops on the same cores) or "sequential".
std::string blas_threading();
// "" when the threading suits pha, else one sentence saying what is wrong and how to fix it.
std::string blas_threading_warning(int threads);
// The fastest OpenBLAS kernel for the CPU (measured in docs/results.md: SkylakeX for AVX-512,
// BF16 or not, Haswell for AVX2+FMA), or "" when the SSE kernel OpenBLAS picks
// is all the CPU has.
std::string best_blas_kernel(const CpuFeatures& cpu);

// Applies PHA_BLAS_CORETYPE; call first in main(), before any thread or MPI starts. Returns only
// when no re-exec is needed (or after the re-executed process, so never twice): `argv` must be
// main's. Throws pha::Error for an unknown policy value.
void apply_blas_kernel_policy(char** argv);

// One line for the run header: what was chosen and why (including the note when the user's
// OPENBLAS_CORETYPE is slower than the CPU allows).
std::string blas_kernel_choice();

}  // namespace pha
