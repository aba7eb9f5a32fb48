#!/usr/bin/env bash
# Checkpoints end to end with `pha train` (checkpoint.md):
#   1. bit-exact resume: 6 steps straight vs 3 steps + checkpoint + a new process resuming to 6,
#      on (1,1,1), (2,2,1) and (2,2,1) with ZeRO-1: per-step losses and final parameters
#      identical bit for bit;
#   2. resharding: the (1,2,2) checkpoint after step 3 resumed on (2,1,1), (1,1,4) and (1,1,1):
#      losses of steps 4..6 within 1e-5 relative of the uninterrupted run;
#   3. preemption: SIGTERM to one rank of a running (2,1,2) job -> checkpoint, exit status 75,
#      and the resumed run reaches the uninterrupted run's final loss (bit for bit);
#   4. the PyTorch reference loads a checkpoint's /model datasets and reproduces pha eval's loss.
#   checkpoint_resume.sh PHA SOURCE_DIR
set -euo pipefail
pha=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
common=(--model.preset=tiny --model.max_seq_len=64 --train.seq_len=32 --train.batch_size=1
        --train.warmup=1 --train.lr=3e-3 --train.eval_every=0 --train.eval_batches=2
        --train.seed=9 --data.synthetic_tokens=20000 --parallel.timeout=120)
train() {  # train DIR DP TP PP [extra args]: global batch 4
  local dir=$1 dp=$2 tp=$3 pp=$4
  shift 4
  mpirun -np $((dp * tp * pp)) --oversubscribe --bind-to none "$pha" train "${common[@]}" \
    --train.grad_accum=$((4 / dp)) --dp "$dp" --tp "$tp" --pp "$pp" --run.dir="$dir" "$@" \
    >> "$dir.log" 2>&1
}
expect_status() {  # expect_status WANT CMD...
  local want=$1 rc=0
  shift
  "$@" || rc=$?
  [ "$rc" -eq "$want" ] || { echo "exit status $rc, wanted $want"; cat "$work"/*.log | tail -30; exit 1; }
}
compare() {  # compare MODE A B: MODE exact|close; per-step losses and final parameters
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
import h5py, numpy as np
mode, a, b = sys.argv[1:4]
def losses(d):
    out = {}
    for line in open(f"{d}/metrics.jsonl"):
        r = json.loads(line)
        if r["kind"] == "step":
            out[r["step"]] = r["loss"]
    return out
la, lb = losses(a), losses(b)
assert sorted(la) == sorted(lb) == list(range(1, 7)), (sorted(la), sorted(lb))
with h5py.File(f"{a}/weights.h5") as fa, h5py.File(f"{b}/weights.h5") as fb:
    wa = {k: fa["model"][k][...] for k in fa["model"]}
    wb = {k: fb["model"][k][...] for k in fb["model"]}
if mode == "exact":
    ok = la == lb and all(np.array_equal(wa[k], wb[k]) for k in wa)
    print(f"{b}: losses and {len(wa)} parameters {'identical bit for bit' if ok else 'DIFFER'}")
else:
    err = max(abs(la[s] - lb[s]) / abs(la[s]) for s in la)
    ok = err <= 1e-5
    print(f"{b}: worst loss rel. error {err:.2e} over 6 steps (tol 1e-5)")
sys.exit(0 if ok else 1)
PY
}

# 1. Bit-exact resume on the same layout.
for layout in "1 1 1" "2 2 1" "2 2 1 z"; do
  set -- $layout
  zero=false
  [ "${4:-}" = z ] && zero=true
  name="l$1$2$3$zero"
  train "$work/$name-straight" $1 $2 $3 --train.steps=6 --parallel.zero1=$zero
  expect_status 75 train "$work/$name-split" $1 $2 $3 --train.steps=6 --train.stop_after=3 \
    --parallel.zero1=$zero
  train "$work/$name-split" $1 $2 $3 --train.steps=6 --train.resume=auto --parallel.zero1=$zero
  compare exact "$work/$name-straight" "$work/$name-split"
done

# 2. Resharding: written on (1,2,2), resumed on other layouts.
expect_status 75 train "$work/src" 1 2 2 --train.steps=6 --train.stop_after=3
ckpt=$(ls -d "$work"/src/checkpoints/step_00000003)
for layout in "2 1 1" "1 1 4" "1 1 1"; do
  set -- $layout
  dir="$work/reshard$1$2$3"
  mkdir -p "$dir"
  cp "$work/src/metrics.jsonl" "$dir/metrics.jsonl"
  train "$dir" $1 $2 $3 --train.steps=6 --train.resume="$ckpt"
  compare close "$work/l111false-straight" "$dir"
done

# 3. Preemption: SIGTERM to one rank mid-run.
long=(--train.steps=40 --train.ckpt_every=0)
train "$work/uninterrupted" 2 1 2 "${long[@]}"
( train "$work/preempted" 2 1 2 "${long[@]}" ) & job=$!
for _ in $(seq 600); do
  [ -f "$work/preempted/metrics.jsonl" ] && [ "$(grep -c '"kind":"step"' "$work/preempted/metrics.jsonl")" -ge 3 ] && break
  sleep 0.2
done
victim=$(pgrep -f "run.dir=$work/preempted" | grep -v "^$$\$" | tail -1)
kill -TERM "$victim"
rc=0
wait $job || rc=$?
[ "$rc" -eq 75 ] || { echo "preempted run exited $rc, wanted 75"; tail -20 "$work/preempted.log"; exit 1; }
grep -q "preempted after step" "$work/preempted.log"
train "$work/preempted" 2 1 2 "${long[@]}" --train.resume=auto
/usr/bin/python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
def last(d):
    rows = [json.loads(l) for l in open(f"{w}/{d}/metrics.jsonl")]
    return [r for r in rows if r["kind"] == "step"][-1]
a, b = last("uninterrupted"), last("preempted")
print(f"preemption: final step {b['step']} loss {b['loss']!r} vs uninterrupted {a['loss']!r}")
sys.exit(0 if a["step"] == b["step"] == 40 and a["loss"] == b["loss"] else 1)
PY

# 4. The reference reproduces the program's evaluation loss from a checkpoint's /model.
"$pha" ckpt verify "$ckpt"
/usr/bin/python3 - "$ckpt/state.h5" "$work/l111false-straight/weights.h5" "$work/ref_weights.h5" <<'PY'
import sys, h5py
state, attrs_from, out = sys.argv[1:4]
with h5py.File(state) as s, h5py.File(out, "w") as o, h5py.File(attrs_from) as a:
    s.copy("model", o)
    for k in ["d", "n_q", "n_kv", "d_h", "d_ff", "F", "H", "N", "L", "V", "block", "mixer", "attn_window"]:
        o.attrs[k] = a.attrs[k]
PY
/usr/bin/python3 "$src/tests/reference/pha_ref.py" tokens --out "$work/tok.h5" --batch 2 --seq 32 --vocab 512 --seed 4
/usr/bin/python3 "$src/tests/reference/pha_ref.py" run --weights "$work/ref_weights.h5" --tokens "$work/tok.h5" --out "$work/ref_out.h5"
"$pha" eval --weights "$ckpt/state.h5" --tokens "$work/tok.h5" > "$work/eval.log"
/usr/bin/python3 - "$work/ref_out.h5" "$work/eval.log" <<'PY'
import re, sys, h5py
ref = float(h5py.File(sys.argv[1])["loss"][()])
got = float(re.search(r"loss ([0-9.]+)", open(sys.argv[2]).read()).group(1))
err = abs(got - ref) / ref
print(f"reference loss from the checkpoint {ref:.6f}, pha eval {got:.6f}: rel. error {err:.1e} (tol 1e-5)")
sys.exit(0 if err <= 1e-5 else 1)
PY
echo "checkpoint tests passed"
