#!/usr/bin/env bash
# slurm/train.sbatch on a one-machine Slurm (slurm/local-slurm.sh), 4 ranks (dp 2 x pp 2):
#   a. a job's final loss equals the same run started with mpirun, bit for bit;
#   b. a job preempted after a few steps (SIGUSR1 to its batch shell, as --signal=B:USR1@N does)
#      checkpoints, exits 75, is requeued, resumes and reaches the uninterrupted final loss;
#   c. a job with an invalid configuration fails once with the message and is not requeued;
#   d. scancel of a running job: pha checkpoints, the job stays cancelled (no requeue);
#   e. slurm/sweep-seqlen.sbatch as a 3-task array -> CSV -> slurm/sweep-table.py table and PNG.
#   slurm_test.sh PHA SOURCE_DIR      (root; packages slurm-wlm, munge; about 2-4 minutes on 2 cores)
set -euo pipefail
pha=$(realpath "$1")
src=$(realpath "$2")
work=$(mktemp -d /tmp/pha-slurm-test.XXXXXX)
state=$work/slurm
export PHA_SLURM_PORT=${PHA_SLURM_PORT:-$((20000 + 2 * (RANDOM % 5000)))}
cleanup() {
  [ -n "${SLURM_CONF:-}" ] && scancel --quiet --user=root 2>/dev/null || true
  "$src/slurm/local-slurm.sh" stop "$state" || true
  if [ "$ok" = 1 ]; then rm -rf "$work"; else echo "kept $work (job logs, Slurm logs in slurm/log)"; fi
}
ok=0
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$work"/*.out; do echo "== $f"; grep -v '^step' "$f" | tail -25; done
  [ -n "${jb:-}" ] && scontrol show job "$jb"
  exit 1
}

eval "$("$src/slurm/local-slurm.sh" start "$state")"
echo "local Slurm up ($SLURM_CONF, port $PHA_SLURM_PORT)"

export PHA=$pha
config=$src/launch/configs/main-job.ini
args=(--model.preset=tiny --model.max_seq_len=64 --train.seq_len=32 --train.batch_size=1
      --train.grad_accum=2 --dp 2 --pp 2 --train.steps=20 --train.warmup=2 --train.eval_every=0
      --train.ckpt_every=0 --train.log_every=1 --data.synthetic_tokens=20000 --parallel.timeout=120)

submit() {  # submit NAME [extra pha args]: prints the job id
  local name=$1
  shift
  (cd "$src" && sbatch --parsable -n 4 -J "$name" -o "$work/$name.out" -t 10 \
    slurm/train.sbatch "$config" "${args[@]}" --run.dir="$work/$name" "$@")
}
field() { scontrol -o show job "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
wait_done() {  # wait_done JOB SECONDS: until the job reaches a final state; prints it
  local s
  for _ in $(seq $(($2 * 2))); do
    s=$(field "$1" JobState)
    case "$s" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED|BOOT_FAIL|DEADLINE)
      echo "$s"; return 0 ;; esac
    sleep 0.5
  done
  echo "TIMEDOUT($s)"
}
steps() { [ -f "$1/metrics.jsonl" ] || { echo 0; return; }; grep -c '"kind":"step"' "$1/metrics.jsonl" || true; }
last_loss() {  # last_loss RUN: "STEP LOSS" of the last step record
  /usr/bin/python3 -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
r = [x for x in r if x["kind"] == "step"][-1]
print(r["step"], repr(r["loss"]))' "$1"
}

# Reference: the same run with mpirun.
t0=$SECONDS
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
  timeout 180 mpirun -np 4 --oversubscribe --bind-to none "$pha" train --config "$config" "${args[@]}" \
  --run.dir="$work/ref" > "$work/ref.out" 2>&1 || fail "mpirun reference run"
ref=$(last_loss "$work/ref")
echo "mpirun reference: step/loss $ref ($((SECONDS - t0)) s)"

# a. Slurm job = mpirun run.
t0=$SECONDS
ja=$(submit a)
st=$(wait_done "$ja" 180)
[ "$st" = COMPLETED ] || fail "(a) job $ja ended $st"
got=$(last_loss "$work/a")
grep -q "rank 3 -> " "$work/a.out" || fail "(a) no rank-to-host table in the job log"
[ "$got" = "$ref" ] || fail "(a) final step/loss $got, mpirun $ref"
echo "PASS (a): job $ja COMPLETED, final step/loss $got == mpirun ($((SECONDS - t0)) s)"

# a2. The same with PHA_LAUNCHER=mpirun (mpirun inside the allocation).
t0=$SECONDS
ja2=$(PHA_LAUNCHER=mpirun submit a2)
st=$(wait_done "$ja2" 180)
[ "$st" = COMPLETED ] || fail "(a2) job $ja2 ended $st"
got=$(last_loss "$work/a2")
[ "$got" = "$ref" ] || fail "(a2) final step/loss $got, mpirun $ref"
echo "PASS (a2): job $ja2 with PHA_LAUNCHER=mpirun COMPLETED, final step/loss $got == mpirun ($((SECONDS - t0)) s)"

# b. Preemption: SIGUSR1 to the batch shell after 3 steps -> exit 75 -> requeue -> resume.
t0=$SECONDS
jb=$(submit b)
for _ in $(seq 240); do [ "$(steps "$work/b")" -ge 3 ] && break; sleep 0.5; done
[ "$(steps "$work/b")" -ge 3 ] || fail "(b) job $jb made no 3 steps in 120 s"
scancel --signal=USR1 --batch "$jb"
for _ in $(seq 120); do [ "$(field "$jb" Restarts)" -ge 1 ] && break; sleep 0.5; done
[ "$(field "$jb" Restarts)" -ge 1 ] || fail "(b) job $jb not requeued within 60 s"
# Slurm holds a requeued job for about 2 minutes (Reason=BeginTime); do not wait for that here.
for _ in $(seq 20); do [ "$(field "$jb" JobState)" = PENDING ] && break; sleep 0.5; done
# Not in the second of the requeue: slurmd refuses a credential that is not newer than the
# revocation of the previous run's ("Job credential revoked"), at one-second resolution.
sleep 3
scontrol update JobId="$jb" StartTime=now
st=$(wait_done "$jb" 240)
[ "$st" = COMPLETED ] || fail "(b) job $jb ended $st"
grep -q "pha exited 75" "$work/b.out" || fail "(b) no exit status 75 in the job log"
grep -q "preempted after step" "$work/b.out" || fail "(b) pha did not report the preemption"
grep -q "(restart 1)" "$work/b.out" || fail "(b) no restarted run in the job log"
got=$(last_loss "$work/b")
[ "$got" = "$ref" ] || fail "(b) final step/loss after resume $got, uninterrupted $ref"
echo "PASS (b): job $jb preempted at step $(grep -o 'preempted after step [0-9]*' "$work/b.out" | head -1 | grep -o '[0-9]*$'), exit 75, requeued (Restarts=$(field "$jb" Restarts)), resumed to step/loss $got == uninterrupted ($((SECONDS - t0)) s)"

# c. Invalid configuration: fails once, with the message, not requeued.
jc=$(submit c --train.lr=-1)
st=$(wait_done "$jc" 120)
[ "$st" = FAILED ] || fail "(c) job $jc ended $st, wanted FAILED"
[ "$(field "$jc" Restarts)" = 0 ] || fail "(c) job $jc was restarted"
grep -q "pha exited 1: failed, not requeued" "$work/c.out" || fail "(c) no failure line in the job log"
[ "$(grep -c '(restart ' "$work/c.out")" -eq 1 ] || fail "(c) the job ran more than once"
[ "$(grep -c '^pha train: error: train.lr = -1: must be positive' "$work/c.out")" -eq 1 ] ||
  fail "(c) not exactly one error message naming train.lr in the job log"
msg=$(grep -m1 '^pha train: error:' "$work/c.out")
echo "PASS (c): job $jc FAILED (ExitCode=$(field "$jc" ExitCode)), Restarts=0, message: $msg"
# d. scancel of a running job: pha checkpoints (SIGTERM), the job stays cancelled, no requeue.
jd=$(submit d --train.steps=400)
for _ in $(seq 240); do [ "$(steps "$work/d")" -ge 3 ] && break; sleep 0.5; done
[ "$(steps "$work/d")" -ge 3 ] || fail "(d) job $jd made no 3 steps in 120 s"
scancel "$jd"
st=$(wait_done "$jd" 60)
[ "$st" = CANCELLED ] || fail "(d) job $jd ended $st, wanted CANCELLED"
for _ in $(seq 30); do grep -q "not requeued" "$work/d.out" && break; sleep 0.5; done
grep -q "pha exited 75 after SIGTERM" "$work/d.out" || fail "(d) no checkpoint-and-exit after scancel in the log"
sleep 2
[ "$(field "$jd" Restarts)" = 0 ] && [ "$(field "$jd" JobState)" = CANCELLED ] || fail "(d) job $jd was requeued"
ls -d "$work"/d/checkpoints/step_* > /dev/null || fail "(d) no checkpoint after scancel"
echo "PASS (d): job $jd scancel -> checkpoint $(basename "$(ls -d "$work"/d/checkpoints/step_* | tail -1)"), CANCELLED, Restarts=0"
# e. The sequence-length sweep: a 3-task job array, 2 ranks each, CSV rows -> Markdown table + PNG.
t0=$SECONDS
je=$(cd "$work" && PHA_SWEEP_SEQLENS="16 32 64" sbatch --parsable -n 2 --array=0-2 -J sweep \
  -o "$work/sweep-%a.out" "$src/slurm/sweep-seqlen.sbatch" "$config" --model.preset=tiny \
  --train.batch_size=1 --train.grad_accum=1 --dp 2 --pp 1 --train.steps=6 --train.warmup=1 \
  --train.eval_every=0 --data.synthetic_tokens=20000)
for _ in $(seq 360); do
  states=$(scontrol -o show job "$je" | grep -o 'JobState=[A-Z_]*' | sort | uniq -c | tr -s ' ' | tr '\n' ' ')
  [ "$states" = " 3 JobState=COMPLETED " ] && break
  case "$states" in *FAILED*|*CANCELLED*) break ;; esac
  sleep 0.5
done
[ "$states" = " 3 JobState=COMPLETED " ] || fail "(e) sweep array $je: $states"
csvf=$work/runs/sweep-$je/results.csv
[ "$(grep -c ',done,' "$csvf")" -eq 3 ] || { cat "$csvf"; fail "(e) not 3 done rows in $csvf"; }
/usr/bin/python3 "$src/slurm/sweep-table.py" "$csvf" --png "$work/sweep.png" > "$work/sweep.md"
[ "$(grep -c '| done |' "$work/sweep.md")" -eq 3 ] && [ -s "$work/sweep.png" ] || fail "(e) no table or PNG"
cat "$work/sweep.md"
echo "PASS (e): sweep array $je: 3 rows, Markdown table and PNG ($((SECONDS - t0)) s)"
ok=1
echo "slurm tests passed"
