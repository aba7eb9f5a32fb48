#!/usr/bin/env bash
# A/B of two pha_bench_model binaries (e.g. a build of main and one of a branch) on the same
# configurations, run alternately A B A B ... in this one script so that both see the same machine
# load. Prints each side's median wall tokens/s and median CPU seconds per step (user + system of
# all threads, which moves less with the load of a shared machine), and the ratios B vs A.
#   bash bench/ab_step.sh A_BIN B_BIN [rounds] [config...]       (AB_THREADS, default 2)
# A config is preset:T:B[:block]; default small:512:4 tiny:256:8.
set -euo pipefail
a=$1 b=$2
rounds=${3:-3}
shift 3 || shift $#
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(small:512:4 tiny:256:8)
threads=${AB_THREADS:-2}
echo "| config | threads | A tok/s | B tok/s | B/A tok/s | A CPU s/step | B CPU s/step | A/B CPU time | rounds |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in "${configs[@]}"; do
  IFS=: read -r preset seq batch block <<<"$c"
  args=(--preset "$preset" --seq "$seq" --batch "$batch" --steps 1 --threads "$threads")
  [ -n "${block:-}" ] && args+=(--block "$block")
  runs=()
  for ((i = 0; i < rounds; i++)); do
    runs+=("$(OMP_NUM_THREADS=$threads "$a" "${args[@]}")")
    runs+=("$(OMP_NUM_THREADS=$threads "$b" "${args[@]}")")
  done
  /usr/bin/python3 - "$c" "$threads" "$rounds" "${runs[@]}" <<'PY'
import json, statistics, sys
c, threads, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
runs = [json.loads(s) for s in sys.argv[4:]]
med = lambda side, key: statistics.median(r[key] for r in runs[side::2])
ta, tb = med(0, "tokens_per_s"), med(1, "tokens_per_s")
ca, cb = med(0, "cpu_seconds_per_step"), med(1, "cpu_seconds_per_step")
print(f"| {c} | {threads} | {ta:.1f} | {tb:.1f} | {tb / ta:.3f} | {ca:.3f} | {cb:.3f} | {ca / cb:.3f} | {n} |")
PY
done
