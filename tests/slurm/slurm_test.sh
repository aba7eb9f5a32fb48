#!/usr/bin/env bash
# slurm/*.sbatch on a one-machine Slurm (slurm/local-slurm.sh), tiny preset:
#   a. a 4-task train.sbatch job (dp 2 x pp 2, srun --mpi=pmix) ends with the final loss of the same
#      run started with mpirun, bit for bit; a2. the same with PHA_LAUNCHER=mpirun;
#   b. a job preempted after a few steps (SIGUSR1 to its batch shell, as --signal=B:USR1@N does)
#      checkpoints, exits 75, requeues itself, restarts by itself, resumes and reaches the
#      uninterrupted final loss;
#   c. a job with an invalid configuration fails once (exit code 1, Restarts=0) with the message;
#   d. scancel of a running job: pha checkpoints, the job stays cancelled (no requeue);
#   e. sweep-seqlen.sbatch as a 3-task array -> 3 CSV rows -> results-table.py table and PNG;
#   f. scaling.sbatch as a 3-task array over layouts -> 3 CSV rows -> table and PNG.
#   slurm_test.sh PHA SOURCE_DIR   (root, packages slurm-wlm and munge; about 2.5 minutes on 2 cores)
# Exits 77 (ctest: skipped) when it cannot run here: not root, or Slurm not installed.
set -euo pipefail
# Never hang: the whole test ends (and stops its Slurm, see the TERM trap) after 360 s
# (PHA_SLURM_TEST_LIMIT).
[ -n "${PHA_SLURM_TEST_DEADLINE:-}" ] || PHA_SLURM_TEST_DEADLINE=1 exec timeout "${PHA_SLURM_TEST_LIMIT:-360}" bash "$0" "$@"
pha=$(realpath "$1")
src=$(realpath "$2")
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (munged and slurmd run as root)"; exit 77; }
for b in munged slurmctld slurmd sbatch; do
  command -v "$b" >/dev/null || { echo "SKIP: $b missing (bash tools/install-deps.sh)"; exit 77; }
done
work=$(mktemp -d /tmp/pha-slurm-test.XXXXXX)
state=$work/slurm
# A free port pair: another Slurm (a user's, another test's) may hold the default one.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 20); do
  PHA_SLURM_PORT=$((20000 + 2 * (RANDOM % 5000)))
  port_busy "$PHA_SLURM_PORT" || port_busy $((PHA_SLURM_PORT + 1)) || break
done
export PHA_SLURM_PORT
ok=0
cleanup() {
  trap - EXIT TERM INT
  [ -n "${SLURM_CONF:-}" ] && scancel --quiet --user=root 2>/dev/null
  "$src/slurm/local-slurm.sh" stop "$state" || true
  if [ "$ok" = 1 ]; then rm -rf "$work"; else echo "kept $work (job logs, Slurm logs in slurm/log)"; fi
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted or over the time budget"; exit 1' TERM INT
fail() {
  echo "FAIL: $*"
  for f in "$work"/*.out; do echo "== $f"; grep -v '^step' "$f" | tail -25; done
  exit 1
}

t_all=$SECONDS
eval "$("$src/slurm/local-slurm.sh" start "$state")"
echo "local Slurm up ($SLURM_CONF, port $PHA_SLURM_PORT)"

export PHA=$pha
config=$src/launch/configs/main-job.ini
args=(--model.preset=tiny --model.max_seq_len=64 --train.seq_len=32 --train.batch_size=1
  --train.grad_accum=2 --dp 2 --pp 2 --train.steps=20 --train.warmup=2 --train.eval_every=0
  --train.ckpt_every=0 --train.log_every=1 --data.synthetic_tokens=20000 --parallel.timeout=120)

submit() { # submit NAME [extra pha args]: prints the job id
  local name=$1
  shift
  (cd "$src" && sbatch --parsable -n 4 -J "$name" -o "$work/$name.out" -t 10 \
    slurm/train.sbatch "$config" "${args[@]}" --run.dir="$work/$name" "$@")
}
field() { scontrol -o show job "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
final_state() { # final_state JOB SECONDS: waits until the job ends; prints its state
  local s
  for _ in $(seq $(($2 * 2))); do
    s=$(field "$1" JobState)
    case "$s" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | PREEMPTED | BOOT_FAIL | DEADLINE)
      echo "$s"
      return 0
      ;;
    esac
    sleep 0.5
  done
  echo "TIMEDOUT($s)"
}
array_states() { # array_states JOB SECONDS: until every task ended; prints "N STATE" counts
  local s
  for _ in $(seq $(($2 * 2))); do
    s=$(scontrol -o show job "$1" | grep -o 'JobState=[A-Z_]*' | sed 's/JobState=//' | sort | uniq -c | xargs)
    case "$s" in *PENDING* | *RUNNING* | *COMPLETING* | *CONFIGURING* | "") sleep 0.5 ;; *) break ;; esac
  done
  echo "$s"
}
steps() {
  [ -f "$1/metrics.jsonl" ] || { echo 0; return; }
  grep -c '"kind":"step"' "$1/metrics.jsonl" || true
}
wait_steps() { # wait_steps RUN N: until RUN logged N steps (at most 120 s)
  for _ in $(seq 240); do [ "$(steps "$1")" -ge "$2" ] && return 0; sleep 0.5; done
  return 1
}
last_loss() { # last_loss RUN: "STEP LOSS" of the last step record
  /usr/bin/python3 -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
r = [x for x in r if x["kind"] == "step"][-1]
print(r["step"], repr(r["loss"]))' "$1"
}

# Reference: the same run with mpirun, outside Slurm.
t0=$SECONDS
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
  timeout 120 mpirun -np 4 --oversubscribe --bind-to none "$pha" train --config "$config" "${args[@]}" \
  --run.dir="$work/ref" >"$work/ref.out" 2>&1 || fail "mpirun reference run"
ref=$(last_loss "$work/ref")
[ "${ref%% *}" = 20 ] || fail "reference ended at step/loss $ref, not step 20"
echo "mpirun reference: step/loss $ref ($((SECONDS - t0)) s)"

# a. Slurm job (srun --mpi=pmix) = mpirun run; a2. the same with mpirun inside the allocation.
# b. is submitted at once: it runs beside them and is preempted once it made 3 steps.
t0=$SECONDS
ja=$(submit a)
ja2=$(PHA_LAUNCHER=mpirun submit a2)
jb=$(submit b)
for j in "$ja:a" "$ja2:a2"; do
  st=$(final_state "${j%%:*}" 150)
  [ "$st" = COMPLETED ] || fail "(${j#*:}) job ${j%%:*} ended $st"
  got=$(last_loss "$work/${j#*:}")
  [ "$got" = "$ref" ] || fail "(${j#*:}) final step/loss $got, mpirun $ref"
done
grep -q "rank 3 -> $(hostname) local 3" "$work/a.out" || fail "(a) no rank-to-host table in the job log"
grep -q "srun --mpi=pmix --ntasks=4" "$work/a.out" || fail "(a) not launched with srun --mpi=pmix"
echo "PASS (a, a2): jobs $ja (srun) and $ja2 (mpirun) COMPLETED, final step/loss $got == mpirun ($((SECONDS - t0)) s)"

# b. Preemption: SIGUSR1 to the batch shell after 3 steps -> exit 75 -> requeue -> resume.
wait_steps "$work/b" 3 || fail "(b) job $jb made no 3 steps in 120 s"
scancel --signal=USR1 --batch "$jb"
st=$(final_state "$jb" 150)
[ "$st" = COMPLETED ] || fail "(b) job $jb ended $st"
[ "$(field "$jb" Restarts)" = 1 ] || fail "(b) job $jb restarted $(field "$jb" Restarts) times, wanted 1"
grep -q "pha exited 75: preempted" "$work/b.out" || fail "(b) no exit status 75 in the job log"
at=$(grep -o 'preempted after step [0-9]*' "$work/b.out" | grep -o '[0-9]*$') || fail "(b) pha did not report the preemption"
{ [ "$at" -ge 3 ] && [ "$at" -lt 20 ]; } || fail "(b) preempted after step $at, wanted 3..19"
grep -q "(restart 1)" "$work/b.out" || fail "(b) no restarted run in the job log"
grep -q "resumed from .*step_0*$at " "$work/b.out" || fail "(b) the requeued run did not resume from step $at"
got=$(last_loss "$work/b")
[ "$got" = "$ref" ] || fail "(b) final step/loss after resume $got, uninterrupted $ref"
echo "PASS (b): job $jb preempted at step $at, exit 75, requeued (Restarts=1), resumed to step/loss $got == uninterrupted ($((SECONDS - t0)) s)"

# c. Invalid configuration: fails once, with the message, not requeued. d. scancel: no requeue.
jc=$(submit c --train.lr=-1)
jd=$(submit d --train.steps=400)
st=$(final_state "$jc" 60)
[ "$st" = FAILED ] || fail "(c) job $jc ended $st, wanted FAILED"
[ "$(field "$jc" ExitCode)" = 1:0 ] || fail "(c) job $jc exit code $(field "$jc" ExitCode), wanted 1:0"
[ "$(field "$jc" Restarts)" = 0 ] || fail "(c) job $jc was restarted"
grep -q "pha exited 1: failed, not requeued" "$work/c.out" || fail "(c) no failure line in the job log"
[ "$(grep -c '(restart ' "$work/c.out")" -eq 1 ] || fail "(c) the job ran more than once"
[ "$(grep -c '^pha train: error: train.lr = -1: must be positive' "$work/c.out")" -eq 1 ] ||
  fail "(c) not exactly one error message naming train.lr in the job log"
echo "PASS (c): job $jc FAILED (ExitCode=1:0), Restarts=0, message: $(grep -m1 '^pha train: error:' "$work/c.out")"
wait_steps "$work/d" 3 || fail "(d) job $jd made no 3 steps in 120 s"
scancel "$jd"
st=$(final_state "$jd" 60)
[ "$st" = CANCELLED ] || fail "(d) job $jd ended $st, wanted CANCELLED"
for _ in $(seq 30); do grep -q "not requeued" "$work/d.out" && break; sleep 0.5; done
grep -q "pha exited 75 after SIGTERM" "$work/d.out" || fail "(d) no checkpoint-and-exit after scancel in the log"
sleep 2
{ [ "$(field "$jd" Restarts)" = 0 ] && [ "$(field "$jd" JobState)" = CANCELLED ]; } || fail "(d) job $jd was requeued"
ckpt=$(find "$work/d/checkpoints" -name COMMITTED 2>/dev/null | head -1)
[ -n "$ckpt" ] || fail "(d) no committed checkpoint after scancel"
echo "PASS (d): job $jd scancel -> $(basename "$(dirname "$ckpt")") committed, CANCELLED, Restarts=0"

# e, f: the two arrays run side by side, 2 ranks per task.
t0=$SECONDS
small=(--model.preset=tiny --train.grad_accum=1 --train.steps=6 --train.warmup=1
  --train.eval_every=0 --train.eval_batches=1 --data.synthetic_tokens=20000)
je=$(cd "$work" && PHA_SWEEP_SEQLENS="16 32 64" PHA_SWEEP_BLOCKS=pha PHA_SWEEP_TOKENS=128 \
  sbatch --parsable -n 2 --array=0-2 -J sweep -o "$work/sweep-%a.out" \
  "$src/slurm/sweep-seqlen.sbatch" "$config" "${small[@]}" --dp 2 --pp 1)
jf=$(cd "$work" && PHA_SCALING_PRESETS=tiny PHA_SCALING_LAYOUTS="1x1x1 2x1x1 1x1x2" \
  sbatch --parsable -n 2 --array=0-2 -J scaling -o "$work/scaling-%a.out" \
  "$src/slurm/scaling.sbatch" "$config" "${small[@]}" --model.max_seq_len=32 --train.seq_len=32 \
  --train.batch_size=2)
# check_rows CSV TABLE_ARGS EXPECTED: 3 rows of 6 steps each with a finite loss and throughput;
# EXPECTED is the sorted values of the swept column(s) (an awk program on the CSV).
check_rows() {
  local csvf=$1 what=$2 want=$3 got
  shift 3
  [ -f "$csvf" ] || fail "($what) no $csvf"
  got=$(/usr/bin/python3 - "$csvf" "$want" <<'PY'
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
cols = sys.argv[2].split(":")[0].split(",")
bad = [r for r in rows if r["status"] != "done" or r["steps"] != "6" or not r["params"]
       or not math.isfinite(float(r["final_loss"])) or not 0 < float(r["final_loss"]) < 6.0
       or not float(r["tokens_per_s"]) > 0 or not float(r["peak_rss_mib"]) > 0]
print(" ".join(sorted("/".join(r[c] for c in cols) for r in rows)) + (f" BAD {bad}" if bad else ""))
PY
)
  [ "$got" = "${want#*:}" ] || { cat "$csvf"; fail "($what) rows '$got', wanted '${want#*:}'"; }
  /usr/bin/python3 "$src/slurm/results-table.py" "$csvf" "$@" --png "$work/$what.png" >"$work/$what.md" ||
    fail "($what) results-table.py failed"
  [ "$(grep -c '| done |' "$work/$what.md")" -eq 3 ] || fail "($what) not 3 rows in the table"
  [ "$(head -c 4 "$work/$what.png" | od -An -c | tr -d ' ')" = '211PNG' ] || fail "($what) no PNG"
  cat "$work/$what.md"
}
st=$(array_states "$je" 150)
[ "$st" = "3 COMPLETED" ] || fail "(e) sweep array $je: $st"
check_rows "$work/runs/sweep-$je/results.csv" sweep "seq_len,batch_size:16/8 32/4 64/2" --x seq_len --group block
echo "PASS (e): sweep array $je: 3 rows (seq_len 16/32/64 at 128 tokens per micro-batch), table and PNG ($((SECONDS - t0)) s)"
st=$(array_states "$jf" 150)
[ "$st" = "3 COMPLETED" ] || fail "(f) scaling array $jf: $st"
check_rows "$work/runs/scaling-$jf/results.csv" scaling "layout,ranks,params:1x1x1/1/3344908 1x1x2/2/3344908 2x1x1/2/3344908" \
  --x layout --group preset
# Pipeline stages compute what one rank computes (docs/parallelism.md): same final loss.
loss_of() { awk -F, -v l="$1" 'NR > 1 && $2 == l { print $6 }' "$work/runs/scaling-$jf/results.csv"; }
# Layouts agree to float rounding (the equivalence tests' 1e-5 relative), not digit for digit.
/usr/bin/python3 -c "import sys; a, b = map(float, sys.argv[1:]); sys.exit(abs(a - b) > 1e-5 * abs(a))" \
  "$(loss_of 1x1x1)" "$(loss_of 1x1x2)" ||
  fail "(f) final loss 1x1x1 $(loss_of 1x1x1) != 1x1x2 $(loss_of 1x1x2) beyond 1e-5 relative"
echo "PASS (f): scaling array $jf: 3 rows (layouts 1x1x1, 2x1x1, 1x1x2; loss 1x1x1 ~ 1x1x2 = $(loss_of 1x1x2)), table and PNG ($((SECONDS - t0)) s)"
ok=1
echo "slurm tests passed in $((SECONDS - t_all)) s"
