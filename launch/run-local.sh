#!/usr/bin/env bash
# Runs a pha command on N MPI ranks of this machine: mpirun with what a root shell on a small
# machine needs (allow root, oversubscribe), and one OpenMP/OpenBLAS thread per rank when the
# ranks outnumber the cores (several ranks each spinning several threads thrash).
#   launch/run-local.sh N PHA_BINARY ARGS...
set -euo pipefail
ranks=$1
shift
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cores=$(nproc)
threads=$(( cores / ranks ))
[ "$threads" -ge 1 ] || threads=1
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$threads} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-$threads}
exec mpirun -np "$ranks" --oversubscribe --bind-to none "$@"
