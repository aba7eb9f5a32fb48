#!/usr/bin/env bash
# Context parallelism at long sequences (docs/parallelism.md, "Context parallelism"): the small
# preset at T = SEQ (16384), one sequence per step, cp 1 vs cp 4 (4 ranks, one OpenMP thread each).
#   1. activation memory per rank: the arenas the runs allocate ("allocated rank" lines; the plan
#      equals them byte for byte, tests/system/memory_plan.sh) — cp 4 against cp 1's plan;
#   2. per-rank compute balance: each rank's training-thread CPU time in forward + backward less
#      its time polling transfers and collectives (metrics.jsonl rank_compute_cpu_s; CPU time, so
#      ranks sharing cores do not distort it), step 2 onwards: max / min over the 4 ranks;
#   3. a sequence that does not fit one rank: under a per-process address-space limit of LIMIT
#      (ulimit -v) cp 1 cannot allocate its arenas, cp 4 trains STEPS steps with the same limit on
#      each rank.
#   4. memory per rank against T (2048 .. 65536) for cp 1, 2, 4, from the planner (= the arenas);
#   5. the cost of the split: compute CPU time at T = 4096 (where cp 1 fits), cp 4's per rank and
#      summed over its ranks against cp 1's, step 2.
#   bash bench/context_parallel.sh [PHA_BINARY]     env: SEQ (16384), STEPS (2), LIMIT_GIB (4.5)
set -euo pipefail
cd "$(dirname "$0")/.."
pha=${1:-${PHA_BUILD_DIR:-build}/launch/pha}
seq=${SEQ:-16384}
steps=${STEPS:-2}
limit_gib=${LIMIT_GIB:-4.5}
work=$(mktemp -d -p "${TMPDIR:-/tmp}")
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
common=(--model.preset=small --model.max_seq_len="$seq" --train.seq_len="$seq"
        --train.batch_size=1 --train.grad_accum=1 --train.steps="$steps" --train.warmup=0
        --train.eval_every=0 --train.eval_batches=1 --data.synthetic_tokens=200000
        --parallel.timeout=1200 --train.ckpt_every=0)
limit_kib=$(/usr/bin/python3 -c "print(int($limit_gib * 1024 * 1024))")
echo "small preset, T = $seq, $steps steps; address-space limit per process: $limit_gib GiB"
for cp in 1 4; do "$pha" plan "${common[@]}" --cp $cp --ranks $cp > "$work/plan_cp$cp.txt"; done
# cp 1 under the limit: refused at allocation (it needs the plan's bytes plus workspaces).
set +e
(ulimit -v "$limit_kib"; mpirun -np 1 --oversubscribe --bind-to none "$pha" train "${common[@]}" \
  --cp 1 --run.dir="$work/cp1") > "$work/cp1.log" 2>&1
rc1=$?
(ulimit -v "$limit_kib"; mpirun -np 4 --oversubscribe --bind-to none "$pha" train "${common[@]}" \
  --cp 4 --run.dir="$work/cp4") > "$work/cp4.log" 2>&1
rc4=$?
set -e
[ "$rc4" -eq 0 ] || { tail -30 "$work/cp4.log"; echo "cp 4 failed under the limit"; exit 1; }
/usr/bin/python3 - "$work" "$rc1" "$limit_gib" <<'PY'
import json, re, sys
w, rc1, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
def fields(line):
    return {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", line.split(":", 1)[1])}
def plan(cp):
    return [fields(l) for l in open(f"{w}/plan_cp{cp}.txt") if l.startswith("plan rank")]
def allocated(log):
    return [fields(l) for l in open(log) if l.startswith("allocated rank")]
one = plan(1)[0]
four = allocated(f"{w}/cp4.log")
assert len(four) == 4, four
mib = lambda b: b / 2**20
print(f"cp 1 (plan): activations {mib(one['activations']):.1f} MiB, total {mib(one['total']):.1f} MiB per rank")
worst = max(r["activations"] for r in four)
ratio = worst / one["activations"]
print(f"cp 4 (allocated): activations {mib(worst):.1f} MiB per rank = {ratio:.3f} x cp 1 (target <= 0.3), "
      f"total {mib(max(r['total'] for r in four)):.1f} MiB, scratch (incl. ring buffers) "
      f"{mib(four[0]['scratch']):.1f} MiB vs {mib(one['scratch']):.1f}")
cp1_log = open(f"{w}/cp1.log").read()
refused = rc1 != 0 and ("memory" in cp1_log.lower() or "alloc" in cp1_log.lower())
print(f"cp 1 under {limit} GiB per process: {'refused (' + next((l.strip() for l in cp1_log.splitlines() if 'alloc' in l.lower() or 'memory' in l.lower()), '') + ')' if refused else 'NOT refused, exit ' + str(rc1)}")
steps = [json.loads(l) for l in open(f"{w}/cp4/metrics.jsonl") if json.loads(l)["kind"] == "step"]
print(f"cp 4 under {limit} GiB per process: trained {len(steps)} steps, losses "
      + " ".join(f"{s['loss']:.4f}" for s in steps) + f", peak RSS rank 0 {steps[-1]['peak_rss_mib']:.0f} MiB")
for s in steps:
    r = s["rank_compute_cpu_s"]
    print(f"step {s['step']}: per-rank compute CPU s " + " ".join(f"{x:.1f}" for x in r)
          + f" | max/min {max(r) / min(r):.3f}")
last = steps[-1]["rank_compute_cpu_s"]
imbalance = max(last) / min(last)
ok = ratio <= 0.3 and imbalance <= 1.10 and refused
print(f"targets: activations {ratio:.3f} <= 0.3, compute max/min {imbalance:.3f} <= 1.10, "
      f"cp 1 does not fit and cp 4 trains: {'met' if ok else 'NOT met'}")
PY
echo "memory per rank (MiB, plan = arenas) against T, small preset, batch 1:"
echo "T cp activations scratch total"
for t in 2048 4096 8192 16384 32768 65536; do
  for cp in 1 2 4; do
    "$pha" plan --model.preset=small --model.max_seq_len=$t --train.seq_len=$t \
      --train.batch_size=1 --cp $cp --ranks $cp | grep '^plan rank 0 ' |
      /usr/bin/python3 -c "import re, sys
f = {k: int(v) for k, v in re.findall(r'(\w+) (\d+)', sys.stdin.read().split(':', 1)[1])}
print($t, $cp, *(round(f[k] / 2**20, 1) for k in ('activations', 'scratch', 'total')))"
  done
done
short=(--model.preset=small --model.max_seq_len=4096 --train.seq_len=4096 --train.batch_size=1
       --train.grad_accum=1 --train.steps=2 --train.warmup=0 --train.eval_every=0
       --train.eval_batches=1 --data.synthetic_tokens=100000 --parallel.timeout=600)
for cp in 1 4; do
  mpirun -np $cp --oversubscribe --bind-to none "$pha" train "${short[@]}" --cp $cp \
    --run.dir="$work/short_cp$cp" > "$work/short_cp$cp.log" 2>&1 || { tail "$work/short_cp$cp.log"; exit 1; }
done
/usr/bin/python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
def last(cp):
    rows = [json.loads(l) for l in open(f"{w}/short_cp{cp}/metrics.jsonl")]
    return [r for r in rows if r["kind"] == "step"][-1]["rank_compute_cpu_s"]
one, four = last(1)[0], last(4)
print(f"T = 4096, step 2 compute CPU: cp 1 {one:.2f} s; cp 4 per rank "
      + " ".join(f"{x:.2f}" for x in four)
      + f" s = {max(four) / one:.3f} x cp 1 (ideal 0.25), summed {sum(four) / one:.3f} x cp 1, "
      f"max/min {max(four) / min(four):.3f}")
PY
