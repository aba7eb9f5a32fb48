#!/usr/bin/env bash
# Activation recomputation (docs/results.md, "Activation recomputation"): activation memory and
# step time of train.recompute = none, selective and full on one configuration (default: the small
# preset at T = 2048, B = 1, PHA blocks), run alternately none selective full none ... in this one
# script so that every mode sees the same machine load. Activation memory is what the model's
# arenas allocate for activations (all kept activations and the recompute buffer; the same bytes
# as `pha plan`); peak RSS is the whole process's (parameters, gradients, scratch and the backend's
# workspaces included). Step time is the median wall and CPU seconds of a forward+backward step
# (pha_bench_model, 1 thread unless RC_THREADS). Prints a Markdown table of each mode against none,
# then `pha plan`'s activations and total per rank for T = 1024 ... 16384 (computed, not run).
#   bash bench/recompute.sh BUILD_DIR [rounds] [preset:T:B[:block]]
set -euo pipefail
build=$1
rounds=${2:-3}
config=${3:-small:2048:1}
threads=${RC_THREADS:-1}
bench=$build/bench/pha_bench_model
IFS=: read -r preset seq batch block <<<"$config"
args=(--preset "$preset" --seq "$seq" --batch "$batch" --steps 2 --threads "$threads")
[ -n "${block:-}" ] && args+=(--block "$block")
runs=()
for ((i = 0; i < rounds; i++)); do
  for mode in none selective full; do
    runs+=("$(OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads "$bench" "${args[@]}" \
      --recompute "$mode")")
  done
done
/usr/bin/python3 - "$config" "$threads" "$rounds" "${runs[@]}" <<'PY'
import json, statistics, sys
config, threads, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
runs = [json.loads(s) for s in sys.argv[4:]]
modes = ["none", "selective", "full"]
def med(mode, key):
    return statistics.median(r[key] for r in runs if r["recompute"] == mode)
print(f"{config}, {threads} thread(s), {rounds} alternating rounds (medians)\n")
print("| recompute | activations MiB | x none | peak RSS MiB | x none | wall s/step | x none "
      "| CPU s/step | x none |")
print("|---|---|---|---|---|---|---|---|---|")
base = {k: med("none", k) for k in ["activation_mib", "peak_rss_mib", "seconds_per_step",
                                   "cpu_seconds_per_step"]}
for m in modes:
    a, rss = med(m, "activation_mib"), med(m, "peak_rss_mib")
    s, c = med(m, "seconds_per_step"), med(m, "cpu_seconds_per_step")
    print(f"| {m} | {a:.1f} | {a / base['activation_mib']:.3f} | {rss:.1f} "
          f"| {rss / base['peak_rss_mib']:.3f} | {s:.3f} | {s / base['seconds_per_step']:.3f} "
          f"| {c:.3f} | {c / base['cpu_seconds_per_step']:.3f} |")
PY

echo
echo "Planned per rank (pha plan, $preset, B = $batch${block:+, $block}), MiB: activations / total"
echo
echo "| T | none | selective | full | selective x none | full x none |"
echo "|---|---|---|---|---|---|"
for t in 1024 2048 4096 8192 16384; do
  row=()
  for mode in none selective full; do
    row+=("$("$build/launch/pha" plan --model.preset="$preset" --model.max_seq_len="$t" \
      --train.seq_len="$t" --train.batch_size="$batch" ${block:+--model.block="$block"} \
      --recompute "$mode" | sed -n 's/^plan rank 0 .* activations \([0-9]*\) .* total \([0-9]*\) .*/\1 \2/p')")
  done
  /usr/bin/python3 - "$t" "${row[@]}" <<'PY'
import sys
t, rows = sys.argv[1], [tuple(int(x) for x in r.split()) for r in sys.argv[2:]]
mib = lambda b: f"{b / 1048576:.0f}"
cells = [f"{mib(a)} / {mib(tot)}" for a, tot in rows]
print(f"| {t} | {' | '.join(cells)} | {rows[1][0] / rows[0][0]:.3f} | {rows[2][0] / rows[0][0]:.3f} |")
PY
done
