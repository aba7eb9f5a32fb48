#!/usr/bin/env bash
# Recall accuracy and validation loss on every layout equal one rank's on the same weights: a
# checkpoint trained 40 steps on one rank (easy recall) is resumed for one step at learning rate
# 1e-30 (the weights stay the checkpoint's) on one rank, cp 2, cp 4, tp 2 and cp 2 x tp 2; step
# 41's training recall (scored in the pipeline step), its validation recall and answer count
# (scored by the evaluator) must be identical, the losses within 1e-5 relative.
#   recall_layouts.sh PHA
set -euo pipefail
pha=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
common=(--model.preset=tiny --model.max_seq_len=64 --train.seq_len=64 --train.batch_size=8
        --train.steps=41 --train.warmup=2 --train.eval_every=0 --train.eval_batches=8
        --data.synthetic_tokens=60000 --data.mqar_fraction=0.75 --data.mqar_max_pairs=2
        --data.mqar_keys=8 --data.mqar_values=8 --parallel.timeout=120)
rc=0
"$pha" train "${common[@]}" --train.lr=3e-3 --train.stop_after=40 --run.dir="$work/base" \
  > "$work/base.log" 2>&1 || rc=$?
[ "$rc" -eq 75 ] || { cat "$work/base.log"; exit 1; }
layouts=("1" "2 --cp 2" "4 --cp 4" "2 --tp 2" "4 --cp 2 --tp 2")
for i in "${!layouts[@]}"; do
  read -r -a args <<< "${layouts[$i]}"
  dir="$work/layout$i"
  mkdir -p "$dir"
  cp "$work/base/metrics.jsonl" "$dir/"
  mpirun -np "${args[0]}" --oversubscribe --bind-to none "$pha" train "${common[@]}" \
    "${args[@]:1}" --train.lr=1e-30 --train.min_lr=1e-30 \
    --train.resume="$work/base/checkpoints/step_00000040" --run.dir="$dir" > "$dir.log" 2>&1 \
    || { cat "$dir.log"; exit 1; }
  grep -o 'over [0-9]* answers' "$dir.log" > "$dir.answers" || { cat "$dir.log"; exit 1; }
done
/usr/bin/python3 - "$work" "${layouts[@]}" <<'PY'
import json, sys
work, layouts = sys.argv[1], sys.argv[2:]
def result(i):
    out = {"answers": open(f"{work}/layout{i}.answers").read().strip()}
    for line in open(f"{work}/layout{i}/metrics.jsonl"):
        r = json.loads(line)
        if r.get("step") == 41 and r["kind"] in ("step", "eval"):
            for key in ("loss", "recall", "val_loss", "val_recall"):
                if key in r:
                    out[key] = r[key]
    return out
ref = result(0)
assert set(ref) == {"answers", "loss", "recall", "val_loss", "val_recall"}, ref
assert ref["val_recall"] > 0, ref
print(f"one rank: val recall {ref['val_recall']:.4f} {ref['answers']}, train recall "
      f"{ref['recall']:.4f}, val loss {ref['val_loss']:.8f}")
failed = False
for i in range(1, len(layouts)):
    got = result(i)
    problems = [k for k in ("answers", "recall", "val_recall") if got.get(k) != ref[k]]
    for k in ("loss", "val_loss"):
        if k not in got or abs(got[k] - ref[k]) > 1e-5 * abs(ref[k]):
            problems.append(k)
    failed |= bool(problems)
    print(f"np {layouts[i]}: val recall {got.get('val_recall')} {got.get('answers')}, train recall "
          f"{got.get('recall')}, val loss rel err {abs(got.get('val_loss', 0) - ref['val_loss']) / ref['val_loss']:.1e}"
          + (f"  FAILED: {', '.join(problems)} differ" if problems else ""))
sys.exit(1 if failed else 0)
PY
