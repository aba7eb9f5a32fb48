#!/usr/bin/env bash
# The README's main job. Installs what is missing, builds pha, and runs the most useful thing the
# program does today: a small PHA model's forward and backward, every parameter gradient checked
# against finite differences, for the pha block and each mixer, and for the serial baseline.
# (Training on several MPI ranks replaces this once `pha train` exists.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
build_dir=${PHA_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$build_dir.configure.log" 2>&1 ||
  { cat "$build_dir.configure.log"; exit 1; }
cmake --build "$build_dir" -j "$(nproc)" --target pha
pha="$build_dir/launch/pha"
"$pha" --version
for mixer in softmax scalar channel; do
  "$pha" check --block pha --mixer "$mixer"
done
"$pha" check --block serial
echo "main job: every gradient of the pha block (3 mixers) and the serial baseline matches finite differences"
