#!/usr/bin/env bash
# The planner against the operating system (docs/results.md, "Planner vs peak RSS"): for several
# configurations (presets, T, dp/tp/pp, ZeRO 0/1/2, recompute), rank 0's peak resident set (VmHWM,
# from the last step's metrics record: after two steps, so the backend's op workspaces have reached
# their high-water mark, and before the final checkpoint) against `pha plan`'s total for rank 0
# (its arenas and comm_in_flight, the MPI temporaries of the collectives it can have in flight at
# once) plus a fixed baseline for the world size: the same measurement on a run whose activations
# are negligible (the tiny preset at T = 16, B = 1, dp = the world size), minus its own planned
# bytes — the process, its libraries (OpenBLAS, FFTW, MPI with its per-peer buffers, HDF5), the
# training data and the tiny model's op workspaces. Prints a markdown table; the target is
# measured/predicted within 10%. Then the cost of capping the dp buckets in flight
# (parallel.grad_buckets_in_flight, 2 by default, against 0: no limit): peak RSS and the median
# step time of steps 2-4, the two settings alternating, two rounds.
#   bench/plan_vs_rss.sh PHA
set -euo pipefail
pha=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
common=(--train.batch_size=1 --train.steps=2 --train.warmup=0 --train.eval_every=0
        --train.eval_batches=1 --data.synthetic_tokens=100000 --parallel.timeout=600
        --run.tensorboard=false)
measure() {  # measure NAME RANKS ARGS...: prints "planned_bytes rss_mib"
  local name=$1 ranks=$2
  shift 2
  "$pha" plan "${common[@]}" "$@" > "$work/$name.plan"
  mpirun -np "$ranks" --oversubscribe --bind-to none "$pha" train "${common[@]}" "$@" \
    --run.dir="$work/$name" > "$work/$name.log" 2>&1 || { cat "$work/$name.log"; exit 1; }
  /usr/bin/python3 - "$work/$name.plan" "$work/$name/metrics.jsonl" <<'PY'
import json, re, sys
plan = next(l for l in open(sys.argv[1]) if l.startswith("plan rank 0 "))
total = int(re.search(r" total (\d+)", plan).group(1))
in_flight = int(re.search(r" comm_in_flight (\d+)", plan).group(1))
steps = [json.loads(l) for l in open(sys.argv[2])]
rss = [r["peak_rss_mib"] for r in steps if r["kind"] == "step"][-1]
print(total, in_flight, rss)
PY
}
# The baseline per world size: MPI's shared-memory transport keeps buffers per local peer.
declare -A baseline
for ranks in 1 2 4; do
  read -r base_plan _ base_rss < <(measure "baseline$ranks" "$ranks" --model.preset=tiny \
    --train.seq_len=16 --model.max_seq_len=16 --dp "$ranks" --train.grad_accum=1)
  baseline[$ranks]=$(/usr/bin/python3 -c "print(f'{$base_rss - $base_plan / 1048576:.1f}')")
  echo "baseline on $ranks rank(s): rank 0 peak RSS $base_rss MiB, of which $(/usr/bin/python3 -c "print(f'{$base_plan / 1048576:.1f}')") MiB planned: ${baseline[$ranks]} MiB process, libraries, data and MPI"
done
echo
echo "| configuration | ranks | planned (MiB) | of which comm in flight (MiB) | + baseline (MiB) | measured peak RSS, rank 0 (MiB) | measured / predicted |"
echo "|---|---|---|---|---|---|---|"
row() {  # row LABEL RANKS ARGS...
  local label=$1 ranks=$2
  shift 2
  local name
  name=$(echo "$label" | tr -c 'a-zA-Z0-9' _)
  read -r planned in_flight rss < <(measure "$name" "$ranks" "$@")
  /usr/bin/python3 - "$label" "$ranks" "$planned" "$in_flight" "$rss" "${baseline[$ranks]}" <<'PY'
import sys
label, ranks = sys.argv[1], sys.argv[2]
planned, in_flight, rss, baseline = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
p = planned / 1048576
print(f"| {label} | {ranks} | {p:.1f} | {in_flight / 1048576:.1f} | {p + baseline:.1f} | {rss:.1f} | {rss / (p + baseline):.3f} |")
PY
}
small=(--model.preset=small)
row "small T=256, dp 1" 1 "${small[@]}" --train.seq_len=256 --train.grad_accum=4
row "small T=1024, dp 1" 1 "${small[@]}" --train.seq_len=1024 --train.grad_accum=1
row "small T=256, dp 2" 2 "${small[@]}" --train.seq_len=256 --dp 2 --train.grad_accum=2
row "small T=256, dp 4" 4 "${small[@]}" --train.seq_len=256 --dp 4 --train.grad_accum=1
row "small T=256, dp 4 ZeRO-1" 4 "${small[@]}" --train.seq_len=256 --dp 4 --train.grad_accum=1 --zero1
row "small T=256, dp 4 ZeRO-2" 4 "${small[@]}" --train.seq_len=256 --dp 4 --train.grad_accum=1 --zero2
row "small T=256, tp 2" 2 "${small[@]}" --train.seq_len=256 --tp 2 --train.grad_accum=4
row "small T=256, pp 2 (rank 0: first stage)" 2 "${small[@]}" --train.seq_len=256 --pp 2 --train.grad_accum=4
row "small T=256, dp 2 x tp 2 ZeRO-2" 4 "${small[@]}" --train.seq_len=256 --dp 2 --tp 2 --train.grad_accum=2 --zero2
row "small T=1024, recompute selective, dp 1" 1 "${small[@]}" --train.seq_len=1024 --train.grad_accum=1 --recompute selective
row "small T=512, recompute selective, dp 2 ZeRO-1" 2 "${small[@]}" --train.seq_len=512 --dp 2 --train.grad_accum=2 --zero1 --recompute selective
row "small T=256, tp 2 x pp 2 (rank 0: first stage)" 4 "${small[@]}" --train.seq_len=256 --tp 2 --pp 2 --train.grad_accum=4
row "pha-90m T=512, dp 1" 1 --model.preset=pha-90m --train.seq_len=512 --train.grad_accum=1
echo
echo "| configuration | buckets in flight | comm in flight, planned (MiB) | peak RSS, rank 0 (MiB) | step time (s, median) | step time / unlimited |"
echo "|---|---|---|---|---|---|"
cap_runs() {  # cap_runs LABEL RANKS ARGS...
  local label=$1 ranks=$2 round limit
  shift 2
  for round in 1 2; do
    for limit in 0 2; do
      local name="cap${ranks}_${limit}_$round"
      "$pha" plan "${common[@]}" "$@" --parallel.grad_buckets_in_flight=$limit > "$work/$name.plan"
      mpirun -np "$ranks" --oversubscribe --bind-to none "$pha" train "${common[@]}" "$@" \
        --train.steps=4 --parallel.grad_buckets_in_flight=$limit --run.dir="$work/$name" \
        > "$work/$name.log" 2>&1 || { cat "$work/$name.log"; exit 1; }
    done
  done
  /usr/bin/python3 - "$work" "$ranks" "$label" <<'PY'
import json, re, statistics, sys
work, ranks, label = sys.argv[1:4]
def run(limit, rnd):
    name = f"{work}/cap{ranks}_{limit}_{rnd}"
    plan = next(l for l in open(name + ".plan") if l.startswith("plan rank 0 "))
    in_flight = int(re.search(r" comm_in_flight (\d+)", plan).group(1))
    steps = [json.loads(l) for l in open(name + "/metrics.jsonl")]
    steps = [r for r in steps if r["kind"] == "step"]
    secs = [1024 / r["tokens_per_s"] for r in steps[1:]]  # 1024 tokens per step in both
    return in_flight, steps[-1]["peak_rss_mib"], secs
res = {limit: [run(limit, r) for r in (1, 2)] for limit in (0, 2)}
base = statistics.median(s for r in res[0] for s in r[2])
for limit in (0, 2):
    t = statistics.median(s for r in res[limit] for s in r[2])
    rss = "/".join(f"{r[1]:.1f}" for r in res[limit])
    print(f"| {label} | {limit or 'no limit'} | {res[limit][0][0] / 1048576:.1f} | {rss} | {t:.2f} | {t / base:.3f} |")
PY
}
cap_runs "small T=256, dp 2" 2 "${small[@]}" --train.seq_len=256 --dp 2 --train.grad_accum=2
cap_runs "small T=256, dp 4 ZeRO-1" 4 "${small[@]}" --train.seq_len=256 --dp 4 --train.grad_accum=1 --zero1
