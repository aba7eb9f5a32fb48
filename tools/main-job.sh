#!/usr/bin/env bash
# The README's main job: installs what is missing, builds pha, and trains the tiny PHA preset on
# the built-in synthetic corpus (a generated language mixed with multi-query associative recall)
# on 4 MPI ranks of this machine: 2 data-parallel replicas x 2 pipeline stages. The log shows the
# loss falling and the recall accuracy rising well above chance (easy recall: docs/data.md); the run ends
# with an evaluation, the metrics plot and a standalone `pha eval` of the exported weights.
#   bash tools/main-job.sh [extra pha train options, e.g. --train.steps=600]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
build_dir=${PHA_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$build_dir.configure.log" 2>&1 ||
  { cat "$build_dir.configure.log"; exit 1; }
cmake --build "$build_dir" -j "$(nproc)" --target pha
pha="$build_dir/launch/pha"
run_dir=${PHA_RUN_DIR:-runs/main-job}
rm -rf "$run_dir"
"$pha" --version
bash launch/run-local.sh 4 "$pha" train --config launch/configs/main-job.ini --run.dir="$run_dir" "$@"
/usr/bin/python3 tools/plot_metrics.py "$run_dir"
"$pha" eval --run "$run_dir"
echo "main job: run directory $run_dir (config.ini, metrics.jsonl, metrics.png, weights.h5)"
