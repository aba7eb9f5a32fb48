#!/usr/bin/env bash
# Asynchronous checkpoints (train.async_ckpt, checkpoint-format.md) end to end with `pha train`:
#   1. bit-exact: async vs synchronous checkpoints every 2 steps, on (1,1,1) and dp 2 x tp 2:
#      per-step losses, final parameters and every checkpoint's datasets and attributes (but
#      `created`) identical bit for bit; the metrics say which mode ran;
#   2. resume from a checkpoint written in the background continues bit for bit (1 rank and
#      dp 2 x tp 2);
#   3. SIGKILL while a background write is in flight (test hook PHA_CKPT_WRITER_DELAY_S pauses the
#      writer after its datasets): `latest` still names the previous checkpoint, which verifies;
#      --train.resume=auto continues from it to the uninterrupted run's losses, bit for bit;
#   4. SIGUSR1 while a background write is in flight: the write is joined, the final checkpoint
#      written, exit status 75; the resumed run reaches the uninterrupted run's losses;
#   5. a failing commit in the background (latest.tmp made a directory) stops every rank with
#      one message naming the step and the cause, exit status 1, nothing hangs.
#   checkpoint_async.sh PHA
set -euo pipefail
pha=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
common=(--model.preset=tiny --model.max_seq_len=64 --train.seq_len=32 --train.batch_size=1
        --train.warmup=1 --train.lr=3e-3 --train.eval_every=0 --train.eval_batches=1
        --train.seed=5 --data.synthetic_tokens=20000 --parallel.timeout=60 --train.keep_last=10)
fail() { echo "FAILED: $*"; tail -n 8 "$work"/*.log; exit 1; }
launch() {  # launch DIR DP TP [extra args]: mpirun in the foreground, global batch 4
  local dir=$1 dp=$2 tp=$3
  shift 3
  timeout 120 mpirun -np $((dp * tp)) --oversubscribe --bind-to none "$pha" train "${common[@]}" \
    --train.grad_accum=$((4 / dp)) --dp "$dp" --tp "$tp" --run.dir="$dir" "$@" >> "$dir.log" 2>&1
}
status_of() { local rc=0; "$@" || rc=$?; echo $rc; }
compare() {  # compare A B FIRST LAST [checkpoints]: losses of steps FIRST..LAST, weights, ckpts
  /usr/bin/python3 - "$@" <<'PY'
import json, os, sys
import h5py, numpy as np
a, b, first, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with_ckpts = len(sys.argv) > 5
def losses(d):  # the last record of each step (a resumed run appends)
    out = {}
    for line in open(f"{d}/metrics.jsonl"):
        r = json.loads(line)
        if r["kind"] == "step":
            out[r["step"]] = r["loss"]
    return {s: l for s, l in out.items() if first <= s <= last}
la, lb = losses(a), losses(b)
assert sorted(la) == sorted(lb) == list(range(first, last + 1)), (sorted(la), sorted(lb))
problems = [f"loss of step {s}: {la[s]!r} vs {lb[s]!r}" for s in la if la[s] != lb[s]]
def config(text):
    if isinstance(text, bytes):
        text = text.decode()
    return [l for l in str(text).splitlines()
            if l.split("=")[0].strip() not in ("dir", "async_ckpt", "resume")]
def same_file(fa, fb, what, skip_attrs=("created",)):
    names = []
    fa.visit(lambda n: names.append(n) if isinstance(fa[n], h5py.Dataset) else None)
    namesb = []
    fb.visit(lambda n: namesb.append(n) if isinstance(fb[n], h5py.Dataset) else None)
    if sorted(names) != sorted(namesb):
        problems.append(f"{what}: different datasets")
        return 0
    for n in names:
        if fa[n][...].tobytes() != fb[n][...].tobytes():
            problems.append(f"{what}: dataset {n} differs")
        if dict(fa[n].attrs) != dict(fb[n].attrs):
            problems.append(f"{what}: attributes of {n} differ")
    for k in set(fa.attrs) | set(fb.attrs):
        va, vb = fa.attrs.get(k), fb.attrs.get(k)
        if k == "config":  # the same but for the keys the runs differ in
            va, vb = config(va), config(vb)
        if k not in skip_attrs and va != vb:
            problems.append(f"{what}: attribute {k} differs")
    return len(names)
with h5py.File(f"{a}/weights.h5") as fa, h5py.File(f"{b}/weights.h5") as fb:
    n_weights = same_file(fa, fb, "weights.h5")
n_ckpt = 0
if with_ckpts:
    ca = sorted(d for d in os.listdir(f"{a}/checkpoints") if d.startswith("step_"))
    cb = sorted(d for d in os.listdir(f"{b}/checkpoints") if d.startswith("step_"))
    if ca != cb or not ca:
        problems.append(f"checkpoints {ca} vs {cb}")
    for d in ca:
        with h5py.File(f"{a}/checkpoints/{d}/state.h5") as fa, \
             h5py.File(f"{b}/checkpoints/{d}/state.h5") as fb:
            n_ckpt += same_file(fa, fb, d)
for p in problems[:10]:
    print("  ", p)
what = f", {n_ckpt} checkpoint datasets" if with_ckpts else ""
print(f"{b}: losses of steps {first}..{last}, {n_weights} parameters{what}: "
      f"{'identical bit for bit' if not problems else 'DIFFER'}")
sys.exit(1 if problems else 0)
PY
}
mode_of() {  # the checkpoint modes a run's metrics record (1: async, 0: synchronous)
  grep '"kind":"checkpoint"' "$1/metrics.jsonl" | grep -o '"async":[01]' | sort -u | tr '\n' ' '
}
ranks_of() {  # the pha processes of the job `timeout mpirun ...` started as $1 (its grandchildren)
  local mpirun_pid
  mpirun_pid=$(pgrep -P "$1" | head -1)
  pgrep -P "$mpirun_pid" -f "$pha" || true
}
wait_for_line() {  # wait_for_line FILE PATTERN: up to 60 s
  for _ in $(seq 600); do grep -q "$2" "$1" 2> /dev/null && return 0; sleep 0.1; done
  fail "no '$2' in $1"
}

# 1 + 2. Bit-exact against synchronous checkpoints, and resume from a background-written one.
for layout in "1 1" "2 2"; do
  set -- $layout
  name="dp$1tp$2"
  launch "$work/$name-sync" $1 $2 --train.steps=6 --train.ckpt_every=2 --train.async_ckpt=false
  launch "$work/$name-async" $1 $2 --train.steps=6 --train.ckpt_every=2 --train.async_ckpt=true
  [ "$(mode_of "$work/$name-sync")" = '"async":0 ' ] || fail "$name-sync did not write synchronously"
  [ "$(mode_of "$work/$name-async")" = '"async":1 ' ] || fail "$name-async did not write in the background"
  grep -q "in the background" "$work/$name-async.log" || fail "$name-async: no background commit logged"
  compare "$work/$name-sync" "$work/$name-async" 1 6 checkpoints
  # Step 4 was written while step 5 ran; resuming from it gives steps 5..6 of the straight run.
  launch "$work/$name-resumed" $1 $2 --train.steps=6 --train.ckpt_every=2 \
    --train.resume="$work/$name-async/checkpoints/step_00000004"
  grep -q "resumed from .*step_00000004" "$work/$name-resumed.log" || fail "$name: no resume"
  compare "$work/$name-async" "$work/$name-resumed" 5 6
done

# Reference for 3 and 4: 8 steps on dp 2, async checkpoints every 2 steps.
launch "$work/straight" 2 1 --train.steps=8 --train.ckpt_every=2

# 3. SIGKILL while step 6's write is in flight (rank 0's writer paused after its datasets).
run=$work/killed
PHA_CKPT_WRITER_DELAY_S=60 PHA_CKPT_WRITER_DELAY_STEP=6 timeout 120 mpirun -x PHA_CKPT_WRITER_DELAY_S \
  -x PHA_CKPT_WRITER_DELAY_STEP -np 2 --oversubscribe --bind-to none "$pha" train "${common[@]}" \
  --train.grad_accum=2 --dp 2 --train.steps=8 --train.ckpt_every=2 --run.dir="$run" \
  > "$run.log" 2>&1 & job=$!
wait_for_line "$run.log" "checkpoint writer pausing 60 s in step_00000006"
victims=$(ranks_of $job)
[ "$(echo $victims | wc -w)" -eq 2 ] || fail "found ranks '$victims' of mpirun $job"
kill -KILL $victims
rc=0; wait $job || rc=$?
[ "$rc" -ne 0 ] || fail "the killed run exited 0"
[ "$(cat "$run/checkpoints/latest")" = step_00000004 ] || fail "latest moved: $(cat "$run/checkpoints/latest")"
[ -d "$run/checkpoints/step_00000006.tmp" ] && [ ! -e "$run/checkpoints/step_00000006" ] ||
  fail "step 6 was not in flight: $(ls "$run/checkpoints")"
"$pha" ckpt verify "$run/checkpoints/step_00000004" > /dev/null || fail "step 4 damaged by the kill"
echo "ok   SIGKILL during the background write of step 6 (exit $rc): latest still step_00000004, intact"
launch "$run" 2 1 --train.steps=8 --train.ckpt_every=2 --train.resume=auto
grep -q "resumed from .*step_00000004" "$run.log" || fail "did not resume from step 4"
compare "$work/straight" "$run" 1 8

# 4. SIGUSR1 while step 4's write is in flight: join, final checkpoint, status 75, resume.
run=$work/preempted
PHA_CKPT_WRITER_DELAY_S=3 PHA_CKPT_WRITER_DELAY_STEP=4 timeout 120 mpirun -x PHA_CKPT_WRITER_DELAY_S \
  -x PHA_CKPT_WRITER_DELAY_STEP -np 2 --oversubscribe --bind-to none "$pha" train "${common[@]}" \
  --train.grad_accum=2 --dp 2 --train.steps=8 --train.ckpt_every=2 --run.dir="$run" \
  > "$run.log" 2>&1 & job=$!
wait_for_line "$run.log" "checkpoint writer pausing 3 s in step_00000004"
kill -USR1 $(ranks_of $job)
rc=0; wait $job || rc=$?
[ "$rc" -eq 75 ] || fail "the preempted run exited $rc, wanted 75"
at=$(grep -o "preempted after step [0-9]*" "$run.log" | grep -o "[0-9]*$") || fail "no preemption message"
grep -q "checkpoint step 4: .*in the background, training waited" "$run.log" || fail "step 4 not joined"
[ "$(cat "$run/checkpoints/latest")" = "$(printf step_%08d "$at")" ] || fail "latest is not step $at"
echo "ok   SIGUSR1 during the background write of step 4: joined, preempted after step $at, exit 75"
launch "$run" 2 1 --train.steps=8 --train.ckpt_every=2 --train.resume=auto
compare "$work/straight" "$run" 1 8

# 5. The commit fails in the background on rank 0 (latest.tmp cannot be created): every rank
#    learns it at the next join; one message, exit status 1.
run=$work/failing
mkdir -p "$run/checkpoints/latest.tmp/blocker"
rc=$(status_of launch "$run" 2 1 --train.steps=6 --train.ckpt_every=2)
[ "$rc" -eq 1 ] || fail "a failing background commit: exit $rc, wanted 1"
[ "$(grep -c "error: the background write of checkpoint step 2 failed: .*latest.tmp" "$run.log")" -eq 1 ] ||
  fail "the error was not printed once"
echo "ok   failing background commit: $(grep "error:" "$run.log")"
echo "asynchronous checkpoint tests passed"
