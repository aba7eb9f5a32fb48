#!/usr/bin/env bash
# Tokens/s, peak memory per rank and the communication / pipeline-wait fractions of `pha train` on
# the small preset (8 layers, so that 4 stages divide it) for 1, 2 and 4 ranks of each kind of parallelism, run one after the other in
# this script. Prints a Markdown table. On a machine with fewer cores than ranks the ranks share
# cores (one thread each): read memory and communication shares, not speed-ups, from such a run.
#   bash bench/parallel_scaling.sh [steps]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-4}
pha=${PHA_BUILD_DIR:-build}/launch/pha
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
common=(--model.preset=small --model.n_layers=8 --train.seq_len=256 --train.batch_size=2 --train.steps="$steps"
        --train.warmup=1 --train.eval_every=0 --train.eval_batches=1 --data.synthetic_tokens=200000)
echo "| layout (dp x tp x pp) | ranks | tok/s | peak RSS per rank (MiB) | comm | pipeline wait |"
echo "|---|---|---|---|---|---|"
for layout in "1 1 1" "2 1 1" "4 1 1" "1 2 1" "1 4 1" "1 1 2" "1 1 4" "2 2 1" "1 2 2"; do
  set -- $layout
  ranks=$(($1 * $2 * $3))
  # Same global batch everywhere: 8 sequences of 256 tokens.
  accum=$((4 / $1))
  mpirun -np $ranks --oversubscribe --bind-to none "$pha" train "${common[@]}" \
    --train.grad_accum=$accum --dp $1 --tp $2 --pp $3 --run.dir="$work/r" > "$work/log" 2>&1 ||
    { cat "$work/log"; exit 1; }
  /usr/bin/python3 - "$work/r/metrics.jsonl" "$1 x $2 x $3" $ranks <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"step"' in l]
rows = [r for r in rows if r["kind"] == "step"][1:] or rows  # step 1 warms up
med = lambda k: statistics.median(r[k] for r in rows)
print(f"| {sys.argv[2]} | {sys.argv[3]} | {med('tokens_per_s'):.0f} | {max(r['peak_rss_mib'] for r in rows):.0f} "
      f"| {100*med('comm_fraction'):.0f}% | {100*med('pipeline_wait_fraction'):.0f}% |")
PY
  rm -rf "$work/r"
done
