#!/usr/bin/env bash
# Step time with checkpoints written in the background (train.async_ckpt) against no checkpoints
# and synchronous ones: the same model, data and steps, three runs, one process, one compute
# thread (OMP/OpenBLAS 1); the background writer is a second thread of that process.
# The figure per run is the mean time the training thread spends per step over steps 2..S: the
# step itself (from metrics.jsonl: tokens / tokens_per_s) plus the time it was held by the
# checkpoints after those steps (the "checkpoint" records' blocking_s: snapshot, waits, or the
# whole synchronous write), except the final checkpoint after step S, which every mode waits for.
#   bash bench/checkpoint_async.sh [STEPS (21)] [CKPT_EVERY (5)] [PRESET (small)]
set -euo pipefail
cd "$(dirname "$0")/.."
pha=${PHA_BUILD_DIR:-build}/launch/pha
steps=${1:-21}
every=${2:-5}
preset=${3:-small}
work=$(mktemp -d -p "${TMPDIR:-/tmp}")
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
common=(--model.preset="$preset" --train.seq_len=128 --train.batch_size=4 --train.steps="$steps"
        --train.warmup=1 --train.eval_every=0 --train.eval_batches=1 --train.threads=1
        --data.synthetic_tokens=100000)
for mode in none sync async; do
  case $mode in
    none) extra=(--train.ckpt_every=0) ;;
    sync) extra=(--train.ckpt_every="$every" --train.async_ckpt=false) ;;
    async) extra=(--train.ckpt_every="$every" --train.async_ckpt=true) ;;
  esac
  "$pha" train "${common[@]}" "${extra[@]}" --run.dir="$work/$mode" > "$work/$mode.log" 2>&1 ||
    { tail -20 "$work/$mode.log"; exit 1; }
done
/usr/bin/python3 - "$work" "$steps" "$every" "$preset" <<'PY'
import json, sys
work, steps, every, preset = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
tokens = 4 * 128
def figures(mode):
    rows = [json.loads(l) for l in open(f"{work}/{mode}/metrics.jsonl")]
    step_s = [tokens / r["tokens_per_s"] for r in rows if r["kind"] == "step" and r["step"] >= 2]
    held = [r["blocking_s"] for r in rows
            if r["kind"] == "checkpoint" and 2 <= r["step"] < steps]
    ckpt = [r for r in rows if r["kind"] == "checkpoint" and r["step"] < steps]
    return (sum(step_s) + sum(held)) / len(step_s), sum(step_s) / len(step_s), len(ckpt)
none = figures("none")[0]
mb = None
for line in open(f"{work}/sync.log"):
    if line.startswith("checkpoint step"):
        mb = line.split("(")[1].split(" MB")[0]
print(f"preset {preset}, {steps} steps of 4 x 128 tokens, 1 rank, 1 compute thread (+1 writer "
      f"thread in async), checkpoints of {mb} MB every {every} steps")
print(f"| mode | checkpoints in steps 2..{steps - 1} | mean step time (s) | of which in the step (s) | vs none |")
print("|---|---|---|---|---|")
for mode in ["none", "sync", "async"]:
    total, in_step, n = figures(mode)
    print(f"| {mode} | {n} | {total:.3f} | {in_step:.3f} | {100 * (total / none - 1):+.1f}% |")
PY
