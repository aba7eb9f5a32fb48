#!/usr/bin/env bash
# Memory per rank against the sequence length for context parallelism x activation recomputation:
# the planner's bytes for rank 0 (`pha plan`, which equal the arenas the trainer allocates:
# tests/system/memory_plan.sh), small preset, batch 1, T = 2048 .. 65536, cp 1/2/4, recompute
# none/selective/full. Writes OUT/memory_vs_seq_len.csv and, with matplotlib, the figure
# OUT/memory_vs_seq_len.{png,svg} (total per rank, log-log, one panel per recompute policy).
#   bash bench/memory_vs_seq_len.sh [PHA] [OUT]     (OUT default docs/results/memory)
set -euo pipefail
cd "$(dirname "$0")/.."
pha=${1:-${PHA_BUILD_DIR:-build}/launch/pha}
out=${2:-docs/results/memory}
mkdir -p "$out"
csv=$out/memory_vs_seq_len.csv
echo "seq_len,cp,recompute,activations_mib,scratch_mib,total_mib" >"$csv"
for t in 2048 4096 8192 16384 32768 65536; do
  for cp in 1 2 4; do
    for recompute in none selective full; do
      "$pha" plan --model.preset=small --model.max_seq_len=$t --train.seq_len=$t \
        --train.batch_size=1 --cp $cp --ranks $cp --recompute $recompute | grep '^plan rank 0 ' |
        /usr/bin/python3 -c "import re, sys
f = {k: int(v) for k, v in re.findall(r'(\w+) (\d+)', sys.stdin.read().split(':', 1)[1])}
print($t, $cp, '$recompute', *(f'{f[k] / 2**20:.1f}' for k in ('activations', 'scratch', 'total')), sep=',')" >>"$csv"
    done
  done
done
/usr/bin/python3 - "$csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
def total(t, cp, r):
    return next(float(x["total_mib"]) for x in rows
                if int(x["seq_len"]) == t and int(x["cp"]) == cp and x["recompute"] == r)
ts = sorted({int(x["seq_len"]) for x in rows})
print("total MiB per rank (activations + scratch + parameters, gradients, AdamW moments)")
print("| T | " + " | ".join(f"cp {cp} {r}" for r in ("none", "selective", "full") for cp in (1, 2, 4)) + " |")
print("|---" * 10 + "|")
for t in ts:
    print(f"| {t} | " + " | ".join(f"{total(t, cp, r):.0f}" for r in ("none", "selective", "full")
                                   for cp in (1, 2, 4)) + " |")
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib missing: no figure (apt-get install python3-matplotlib)")
    sys.exit(0)
fig, axes = plt.subplots(1, 3, figsize=(12, 4), sharey=True)
for ax, r in zip(axes, ("none", "selective", "full")):
    for cp in (1, 2, 4):
        ax.plot(ts, [total(t, cp, r) / 1024 for t in ts], marker="o", label=f"cp {cp}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_title(f"recompute {r}")
    ax.set_xlabel("sequence length T")
    ax.grid(True, which="both", alpha=0.3)
axes[0].set_ylabel("memory per rank (GiB, plan = arenas)")
axes[0].legend()
fig.suptitle("small preset, batch 1: memory per rank against T, context parallelism x recomputation")
fig.tight_layout()
base = sys.argv[1].rsplit(".", 1)[0]
for ext in ("png", "svg"):
    fig.savefig(f"{base}.{ext}", dpi=120)
print(f"figure: {base}.png, {base}.svg")
PY
