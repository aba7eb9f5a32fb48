#!/usr/bin/env bash
# Memory per rank under ZeRO (docs/results.md, "ZeRO: memory per rank"): the small preset at
# T = 256, global batch 4 sequences, on dp 1, 2, 4 x none / ZeRO-1 / ZeRO-2 in fp32, and dp 4 x
# none / ZeRO-1 / ZeRO-2 with compute copies (--precision fp32-copies: the bf16 path with f32
# copies, whose masters ZeRO shards). For each, `pha plan`'s prediction and the arenas `pha train`
# allocated (rank 0's "allocated" line after one step), in MiB, then per layout the optimizer and
# gradient memory per rank against dp 1's (the issue's targets: optimizer 0.25x with ZeRO-1 at
# dp 4, gradients 0.25x with ZeRO-2 at dp 4; the ZeRO-2 gradient window, reused by every layer, is
# shown apart) and the parameter (master) memory against plain dp of the same precision and dp.
# Prints markdown tables.
#   bench/zero_memory.sh PHA
set -euo pipefail
pha=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
common=(--model.preset=small --train.seq_len=256 --train.batch_size=1 --train.steps=1
        --train.warmup=0 --train.eval_every=0 --train.eval_batches=1
        --data.synthetic_tokens=100000 --parallel.timeout=600)
echo "| precision | dp | ZeRO | parameters | gradients | gradient window | compute copies | optimizer | activations | scratch | comm | total (plan) | total (allocated) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for run in "fp32 1 none" "fp32 2 none" "fp32 2 zero1" "fp32 2 zero2" "fp32 4 none" "fp32 4 zero1" \
           "fp32 4 zero2" "fp32-copies 4 none" "fp32-copies 4 zero1" "fp32-copies 4 zero2"; do
  read -r precision dp zero <<< "$run"
  flags=(--dp "$dp" --train.grad_accum=$((4 / dp)) --precision "$precision")
  [ "$zero" != none ] && flags+=("--$zero")
  "$pha" plan "${common[@]}" "${flags[@]}" > "$work/plan"
  mpirun -np "$dp" --oversubscribe --bind-to none "$pha" train "${common[@]}" "${flags[@]}" \
    --run.dir="$work/run$precision$dp$zero" > "$work/log" 2>&1 || { cat "$work/log"; exit 1; }
  /usr/bin/python3 - "$work/plan" "$work/log" "$precision" "$dp" "$zero" "$work/ratios" <<'PY'
import re, sys
plan, log, precision, dp, zero, ratios = sys.argv[1:7]
def fields(path, prefix):
    for line in open(path):
        if line.startswith(prefix + " rank 0 "):
            return {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", line.split(": ", 1)[1])}
p, a = fields(plan, "plan"), fields(log, "allocated")
mib = lambda b: f"{b / 1048576:.1f}"
print(f"| {precision} | {dp} | {zero} | {mib(a['parameters'])} | {mib(a['gradients'])} "
      f"| {mib(a['grad_window'])} | {mib(a['compute'])} | {mib(a['optimizer'])} "
      f"| {mib(a['activations'])} | {mib(a['scratch'])} | {mib(a['comm_buffers'])} "
      f"| {mib(p['total'] - p['comm_in_flight'])} | {mib(a['arenas'])} |")
with open(ratios, "a") as f:
    f.write(f"{precision} {dp} {zero} {a['optimizer']} {a['gradients']} {a['grad_window']} "
            f"{a['parameters']}\n")
PY
done
echo
echo "| precision | dp | ZeRO | optimizer / dp 1 | gradients / dp 1 | gradients + window / dp 1 | parameters / plain dp |"
echo "|---|---|---|---|---|---|---|"
/usr/bin/python3 - "$work/ratios" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
one = next(r for r in rows if r[1] == "1")
o1, g1 = int(one[3]), int(one[4])
plain = {(r[0], r[1]): int(r[6]) for r in rows if r[2] == "none"}
for precision, dp, zero, o, g, w, p in rows:
    o, g, w, p = int(o), int(g), int(w), int(p)
    print(f"| {precision} | {dp} | {zero} | {o / o1:.3f} | {g / g1:.3f} | {(g + w) / g1:.3f} "
          f"| {p / plain[(precision, dp)]:.3f} |")
PY
