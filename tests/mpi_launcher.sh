#!/usr/bin/env bash
# Runs a test binary on N MPI ranks: the CROSSCOMPILING_EMULATOR of the MPI tests, so ctest (and
# gtest_discover_tests) prefix every command with it.
#   mpi_launcher.sh N BINARY [ARGS...]
# Listing the tests (--gtest_list_tests) runs the binary directly, without MPI.
set -euo pipefail
ranks=$1
shift
for arg in "$@"; do
  if [[ $arg == --gtest_list_tests ]]; then exec "$@"; fi
done
# Root may run mpirun here; several ranks share few cores, so each keeps to one thread.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# mpirun gives each rank a terminal, which gtest would colour; logs read better plain.
export GTEST_COLOR=no
exec mpirun -np "$ranks" --oversubscribe --bind-to none "$@"
