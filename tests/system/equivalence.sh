#!/usr/bin/env bash
# Equivalence of parallel layouts (parallel.md): `pha train` on the tiny preset with a fixed seed
# and global batch, on every layout (dp, tp, pp, cp) in the list, must give per-step losses within
# 1e-5 relative of one rank and final parameters within 1e-4 norm-wise relative, over 5 steps.
# ZERO: none, zero1 or zero2 (parallel.zero1/zero2 on every layout with dp x cp > 1; dp 4 is
# added). SET: grid (dp, tp, pp layouts) or cp (context parallelism: cp 2, cp 4, and cp 2 with
# tp 2, pp 2, dp 2, tp 2 x pp 2). WINDOW: model.attn_window of every run (0: full causal).
# RECOMPUTE: train.recompute of every run but the one-rank reference (which keeps everything).
#   equivalence.sh PHA BLOCK [ZERO=none] [SET=grid] [WINDOW=0] [RECOMPUTE=none]
set -euo pipefail
pha=$1
block=$2
zero=${3:-none}
set_name=${4:-grid}
window=${5:-0}
recompute=${6:-none}
case $zero in none | zero1 | zero2) ;; *) echo "ZERO must be none, zero1 or zero2, not '$zero'"; exit 2 ;; esac
case $set_name in grid | cp) ;; *) echo "SET must be grid or cp, not '$set_name'"; exit 2 ;; esac
case $recompute in none | selective | full) ;; *) echo "RECOMPUTE must be none, selective or full, not '$recompute'"; exit 2 ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# Global batch: 4 sequences of 32 tokens = batch_size x grad_accum x dp.
common=(--model.preset=tiny --model.block="$block" --model.max_seq_len=64
        --train.seq_len=32 --train.batch_size=1 --train.steps=5 --train.warmup=1
        --train.lr=3e-3 --train.eval_every=0 --train.eval_batches=1 --train.seed=7
        --data.synthetic_tokens=20000 --parallel.timeout=120 --model.attn_window="$window")
run() {  # run NAME DP TP PP [CP]
  local name=$1 dp=$2 tp=$3 pp=$4 cp=${5:-1}
  local ranks=$((dp * tp * pp * cp)) accum=$((4 / dp))
  local z1=false z2=false mode=$recompute
  [ "$name" = ref ] && mode=none
  [ $((dp * cp)) -gt 1 ] && [ "$zero" = zero1 ] && z1=true
  [ $((dp * cp)) -gt 1 ] && [ "$zero" = zero2 ] && z2=true
  mpirun -np "$ranks" --oversubscribe --bind-to none "$pha" train "${common[@]}" \
    --train.grad_accum=$accum --dp "$dp" --tp "$tp" --pp "$pp" --cp "$cp" \
    --parallel.zero1=$z1 --parallel.zero2=$z2 --recompute "$mode" \
    --run.dir="$work/$name" > "$work/$name.log" 2>&1 || { cat "$work/$name.log"; exit 1; }
}
run ref 1 1 1
if [ "$set_name" = cp ]; then  # dp tp pp cp
  layouts=("1 1 1 2" "1 1 1 4" "1 2 1 2" "1 1 2 2" "2 1 1 2" "1 2 2 2")
elif [ "$zero" = none ]; then
  layouts=("2 1 1 1" "1 2 1 1" "1 1 2 1" "1 2 2 1" "2 2 1 1" "2 1 2 1" "2 2 2 1")
else  # the layouts with dp > 1
  layouts=("2 1 1 1" "4 1 1 1" "2 2 1 1" "2 1 2 1" "2 2 2 1")
fi
for layout in "${layouts[@]}"; do
  set -- $layout
  run "dp$1_tp$2_pp$3_cp$4" "$1" "$2" "$3" "$4"
done
/usr/bin/python3 - "$work" "$block" "$zero" "$recompute" "${layouts[@]}" <<'PY'
import json, sys
import h5py, numpy as np
work, block, zero, recompute, layouts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]

def losses(name):
    rows = [json.loads(l) for l in open(f"{work}/{name}/metrics.jsonl")]
    return [r["loss"] for r in rows if r["kind"] == "step"]

def weights(name):
    with h5py.File(f"{work}/{name}/weights.h5", "r") as f:
        return {k: f["model"][k][...].astype(np.float64) for k in f["model"]}

ref_losses, ref_weights = losses("ref"), weights("ref")
assert len(ref_losses) == 5, ref_losses
failed = False
for layout in layouts:
    dp, tp, pp, cp = layout.split()
    name = f"dp{dp}_tp{tp}_pp{pp}_cp{cp}"
    got = losses(name)
    loss_err = max(abs(a - b) / abs(b) for a, b in zip(got, ref_losses))
    w = weights(name)
    assert w.keys() == ref_weights.keys(), (name, set(w) ^ set(ref_weights))
    num = sum(float(np.sum((w[k] - ref_weights[k]) ** 2)) for k in w)
    den = sum(float(np.sum(ref_weights[k] ** 2)) for k in w)
    param_err = (num / den) ** 0.5
    worst = max(w, key=lambda k: np.linalg.norm(w[k] - ref_weights[k]) / np.linalg.norm(ref_weights[k]))
    ok = loss_err <= 1e-5 and param_err <= 1e-4 and len(got) == 5
    failed |= not ok
    print(f"{block:7s} {zero:5s} recompute {recompute} dp {dp} tp {tp} pp {pp} cp {cp}: loss rel err {loss_err:.2e} "
          f"(tol 1e-5), params rel err {param_err:.2e} (tol 1e-4), worst tensor {worst}"
          f"{'' if ok else '  FAILED'}")
print("reference losses:", " ".join(f"{x:.6f}" for x in ref_losses))
sys.exit(1 if failed else 0)
PY
