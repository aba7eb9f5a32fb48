#!/usr/bin/env bash
# The README's test command: installs what is missing, configures (with the CUDA backend when the
# toolkit is present: it must compile even without a GPU), builds, and runs every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
build_dir=${PHA_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPHA_CUDA=AUTO >"$build_dir.configure.log" 2>&1 ||
  { cat "$build_dir.configure.log"; exit 1; }
grep -E "pha: CUDA backend" "$build_dir.configure.log" || true
cmake --build "$build_dir" -j "$(nproc)"
# Several MPI ranks share 2 cores in the multi-rank tests: keep each rank to one thread there.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd "$build_dir"
ctest --output-on-failure --timeout 900 "$@"
