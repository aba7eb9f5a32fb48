#!/usr/bin/env bash
# pha train end to end with train.recompute = none, selective and full on tp 2 x pp 2 (PHA and
# serial blocks) and on cp 2 x pp 2 (PHA; ring attention and the split convolution run again in
# the recomputed forward), 4 ranks, 3 micro-batches per step under 1F1B: the losses of every step
# (printed to 17 digits in metrics.jsonl, so after two AdamW updates they reflect every gradient)
# are identical.
#   recompute.sh PHA
set -euo pipefail
pha=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
for run in "pha --tp 2 --pp 2" "serial --tp 2 --pp 2" "pha --cp 2 --pp 2"; do
  read -r -a args <<< "$run"
  block=${args[0]}
  name=$(echo "$run" | tr -d ' -')
  for mode in none selective full; do
    mpirun -np 4 --oversubscribe --bind-to none "$pha" train --model.preset=tiny \
      --model.max_seq_len=48 --train.seq_len=48 --train.batch_size=2 --train.steps=3 \
      --train.warmup=0 --train.eval_every=0 --train.eval_batches=1 --data.synthetic_tokens=20000 \
      --model.block="$block" "${args[@]:1}" --train.grad_accum=3 --recompute "$mode" \
      --parallel.timeout=120 --run.dir="$work/$name-$mode" > "$work/$name-$mode.log" 2>&1 \
      || { cat "$work/$name-$mode.log"; exit 1; }
    grep -o '"loss":[^,]*' "$work/$name-$mode/metrics.jsonl" > "$work/$name-$mode.losses"
  done
  [ "$(wc -l < "$work/$name-none.losses")" -eq 3 ] || { echo "$run: no 3 losses"; exit 1; }
  for mode in selective full; do
    diff "$work/$name-none.losses" "$work/$name-$mode.losses" \
      || { echo "$run: recompute $mode changes the losses"; exit 1; }
  done
  echo "$run: the 3 losses are identical under none, selective and full ($(tr '\n' ' ' < "$work/$name-none.losses"))"
done
