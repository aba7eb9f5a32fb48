#!/usr/bin/env bash
# Log lines reach a file or a pipe when they are written (issue 14, part 4): `pha train` with
# stdout redirected to a file, and through a pipe, must show its first step line while it is still
# running. The run is long (100000 steps) and logs only step 1 (log_every 100000), so a
# block-buffered stdout would hold the line until exit: the test then sees nothing and fails.
#   log_flush.sh PHA
set -euo pipefail
pha=$1
work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
args=(train --model.preset=tiny --model.max_seq_len=64 --train.seq_len=32 --train.batch_size=1
      --train.steps=100000 --train.warmup=1 --train.log_every=100000 --train.eval_every=0
      --train.eval_batches=1 --train.ckpt_every=0 --data.synthetic_tokens=20000)
# wait_for_step LOG: true once "step 1/" is in LOG while pha (pid in $pid) still runs.
wait_for_step() {
  for _ in $(seq 600); do
    if grep -q '^step *1/100000 ' "$1"; then
      kill -0 "$pid" 2> /dev/null || { echo "FAIL: pha had exited"; return 1; }
      return 0
    fi
    kill -0 "$pid" 2> /dev/null || { echo "FAIL: pha exited first"; cat "$1"; return 1; }
    sleep 0.1
  done
  echo "FAIL: no step line in $1 after 60 s while pha runs; it holds:"
  cat "$1"
  return 1
}
for how in file pipe; do
  if [ "$how" = file ]; then
    "$pha" "${args[@]}" --run.dir="$work/run-$how" > "$work/$how.log" 2>&1 &
    pid=$!
  else
    # pha's own pid, not the pipe's last command's
    ( echo "$BASHPID" > "$work/pid"; exec "$pha" "${args[@]}" --run.dir="$work/run-$how" 2>&1 ) |
      cat > "$work/$how.log" &
    for _ in $(seq 50); do [ -s "$work/pid" ] && break; sleep 0.1; done
    pid=$(cat "$work/pid")
  fi
  wait_for_step "$work/$how.log"
  echo "$how: $(grep '^step' "$work/$how.log" | cut -c1-60)... seen while pha runs"
  kill -9 "$pid"
  wait 2> /dev/null || true
  pid=
done
echo "PASS"
