#!/usr/bin/env bash
# ZeRO with compute copies on the CPU (--precision fp32-copies: the bf16 code path with f32
# copies, docs/parallelism.md "ZeRO", "bf16"): on every layout the run with copies, whose masters
# are sharded over dp, must give the same per-step losses and final weights as the fp32 run of the
# same layout, bit for bit (ZeRO-1 dp 2 also checkpoints after step 2, asynchronously, and the
# dp2 x cp2 ZeRO-2 run synchronously: the masters gathered for a checkpoint must not disturb
# training); a checkpoint written with copies at dp 2 ZeRO-1 resumes at dp 4 ZeRO-2 and at dp 1
# (copies) bit-identical to the fp32 run resumed the same way.
#   zero_compute_copies.sh PHA
set -euo pipefail
pha=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
common=(--model.preset=tiny --model.max_seq_len=64 --train.seq_len=32 --train.batch_size=1
        --train.steps=4 --train.warmup=1 --train.lr=3e-3 --train.eval_every=0
        --train.eval_batches=1 --train.seed=5 --data.synthetic_tokens=20000
        --parallel.timeout=120)
train() {  # train NAME DP TP PP CP [extra args]: global batch 4
  local name=$1 dp=$2 tp=$3 pp=$4 cp=$5
  shift 5
  local rc=0
  mkdir -p "$work/$name"
  mpirun -np $((dp * tp * pp * cp)) --oversubscribe --bind-to none "$pha" train "${common[@]}" \
    --train.grad_accum=$((4 / dp)) --dp "$dp" --tp "$tp" --pp "$pp" --cp "$cp" \
    --run.dir="$work/$name" "$@" >> "$work/$name.log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 75 ]; then cat "$work/$name.log"; exit 1; fi
}
pairs=()
for run in "z1_dp2 2 1 1 1 --zero1 --train.ckpt_every=2" "z2_dp4 4 1 1 1 --zero2" \
           "z1_dp2tp2 2 2 1 1 --zero1" "z2_dp2pp2 2 1 2 1 --zero2" \
           "z2_dp2cp2 2 1 1 2 --zero2 --train.ckpt_every=2 --train.async_ckpt=false"; do
  set -- $run
  train "$1_fp32" "${@:2}" --precision fp32
  train "$1_copies" "${@:2}" --precision fp32-copies
  pairs+=("$1")
done
# Resume with resharding: stop at step 2 at dp 2 ZeRO-1, go on at dp 4 ZeRO-2 and at dp 1.
for p in fp32 fp32-copies; do
  train "stop_$p" 2 1 1 1 --zero1 --precision "$p" --train.stop_after=2 --train.ckpt_every=2
  for to in "dp4 4 --zero2" "dp1 1"; do
    set -- $to
    mkdir -p "$work/resumed_$1_$p"
    cp "$work/stop_$p/metrics.jsonl" "$work/resumed_$1_$p/metrics.jsonl"
    train "resumed_$1_$p" "$2" 1 1 1 "${@:3}" --precision "$p" \
      --train.resume="$work/stop_$p/checkpoints/step_00000002"
  done
done
grep -q "fp32-copies precision" "$work/z1_dp2_copies.log" ||
  { echo "the copies run does not say it ran with fp32-copies"; exit 1; }
/usr/bin/python3 - "$work" "${pairs[@]}" resumed_dp4 resumed_dp1 <<'PY'
import json, sys
import h5py, numpy as np
work, names = sys.argv[1], sys.argv[2:]
pairs = [n for n in names if not n.startswith("resumed_")]

def losses(d):
    return [json.loads(l)["loss"] for l in open(f"{work}/{d}/metrics.jsonl")
            if json.loads(l)["kind"] == "step"]

def weights(d):
    with h5py.File(f"{work}/{d}/weights.h5", "r") as f:
        return {k: f["model"][k][...] for k in f["model"]}

failed = False
for n in names:
    a, b = (f"{n}_fp32", f"{n}_copies" if n in pairs else f"{n}_fp32-copies")
    la, lb = losses(a), losses(b)
    wa, wb = weights(a), weights(b)
    same_w = wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)
    ok = la == lb and len(la) == 4 and same_w
    failed |= not ok
    print(f"{n}: {len(la)} losses {'identical' if la == lb else 'DIFFER'}, final weights "
          f"{'identical' if same_w else 'DIFFER'} (fp32 vs fp32-copies){'' if ok else '  FAILED'}")
sys.exit(1 if failed else 0)
PY
