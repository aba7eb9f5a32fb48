#!/usr/bin/env bash
# TensorBoard event files of `pha train`, read back by TensorBoard's own reader (the `tensorboard`
# Python package: its record reader checks both CRCs of every record; EventAccumulator decodes the
# Event protobufs). Checks that
#   - every numeric field of every metrics.jsonl record appears as the scalar "<kind>/<key>" at
#     the record's step with the same value (as float32, TensorBoard's type), and nothing else;
#   - the mixing weights appear as mixing/layer<l>/<branch> equal to metrics.jsonl's;
#   - the file holds exactly 1 + steps + evaluations records, the first with "brain.Event:2";
#   - run.tensorboard = false writes no event file; tools/plot_metrics.py still reads the run.
#   tensorboard.sh PHA
set -euo pipefail
pha=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
export PYTHONPATH=/opt/pha-pydeps${PYTHONPATH:+:$PYTHONPATH}
/usr/bin/python3 -c "import tensorboard.backend.event_processing.event_accumulator" 2>/dev/null ||
  { echo "tensorboard.sh: the Python tensorboard package is missing: run tools/install-deps.sh"; exit 1; }
args=(--model.preset=tiny --model.d=64 --model.n_q=4 --model.n_kv=2 --model.d_ff=96
      --model.gss_f=80 --model.gss_h=16 --model.dss_n=8 --model.n_layers=2 --model.vocab=500
      --model.max_seq_len=32 --train.seq_len=32 --train.batch_size=4 --train.steps=6
      --train.warmup=1 --train.eval_every=3 --train.eval_batches=2 --data.synthetic_tokens=20000)
"$pha" train "${args[@]}" --run.dir="$work/run" > "$work/train.log"
"$pha" train "${args[@]}" --run.dir="$work/off" --run.tensorboard=false > "$work/off.log"
[ ! -e "$work/off/tb" ] || { echo "FAIL: run.tensorboard=false wrote $work/off/tb"; exit 1; }
/usr/bin/python3 "$here/../../tools/plot_metrics.py" "$work/run" --out "$work/plot.png"
[ -s "$work/plot.png" ] || { echo "FAIL: plot_metrics.py wrote no plot"; exit 1; }

/usr/bin/python3 - "$work/run" <<'PY'
import glob, json, math, sys
import numpy as np
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
run = sys.argv[1]
files = glob.glob(f"{run}/tb/events.out.tfevents.*")
assert len(files) == 1, files
records = [json.loads(l) for l in open(f"{run}/metrics.jsonl")]
steps = [r for r in records if r["kind"] == "step"]
evals = [r for r in records if r["kind"] == "eval"]
events = list(event_file_loader.EventFileLoader(files[0]).Load())  # raises on a CRC mismatch
version = events[0].file_version if events else None
ok = len(events) == 1 + len(steps) + len(evals) and version == "brain.Event:2"
print(f"{len(events)} records readable with valid CRCs (want 1 + {len(steps)} steps + "
      f"{len(evals)} evaluations), first file_version {version!r}: {ok}")
ea = EventAccumulator(f"{run}/tb")
ea.Reload()
tb = {tag: {e.step: e.value for e in ea.Scalars(tag)} for tag in ea.Tags()["scalars"]}
want = {}
branches = ["attention", "gss", "ffn"]
for kind, rows in (("train", steps), ("eval", evals)):
    for r in rows:
        for key, value in r.items():
            if key in ("kind", "step"):
                continue
            if key == "mixing_weights":
                for l, w in enumerate(value):
                    for b, x in enumerate(w):
                        want.setdefault(f"mixing/layer{l}/{branches[b]}", {})[r["step"]] = x
            elif isinstance(value, (int, float)):
                want.setdefault(f"{kind}/{key}", {})[r["step"]] = value
same_tags = sorted(tb) == sorted(want)
print(f"{len(tb)} tags, the same as metrics.jsonl's numeric fields: {same_tags}")
bad = [(tag, s, tb[tag].get(s), v) for tag, per in want.items() for s, v in per.items()
       if tag in tb and tb[tag].get(s) != np.float32(v)]
print(f"{sum(len(p) for p in want.values())} values compared (float32-exact): "
      f"{'all equal' if not bad else bad[:5]}")
assert any(t.startswith("mixing/") for t in tb) and "eval/val_loss" in tb and "train/lr" in tb
sys.exit(0 if ok and same_tags and not bad else 1)
PY
echo "tensorboard.sh: all checks passed"
