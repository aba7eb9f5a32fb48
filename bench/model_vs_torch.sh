#!/usr/bin/env bash
# Forward+backward tokens/s and peak memory of pha against the PyTorch reference's own training
# step, same configuration and thread count, run one after the other in this script (the machine
# is shared and noisy: compare the ratio, not the absolute numbers). Prints a Markdown table.
#   bash bench/model_vs_torch.sh [threads] [presets...]     (defaults: 2; tiny small pha-125m)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
shift || true
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(tiny small pha-125m)
seq=${PHA_BENCH_SEQ:-1024}
bench=${PHA_BUILD_DIR:-build}/bench/pha_bench_model
[ -x "$bench" ] || cmake --build "${PHA_BUILD_DIR:-build}" --target pha_bench_model
echo "| preset | T | B | threads | pha tok/s | torch tok/s | speed ratio | pha peak MiB | torch peak MiB |"
echo "|---|---|---|---|---|---|---|---|---|"
for p in "${presets[@]}"; do
  steps=3
  [ "$p" = pha-125m ] && steps=1
  pha_json=$(OMP_NUM_THREADS=$threads "$bench" --preset "$p" --seq "$seq" --batch 1 --steps $steps --threads "$threads")
  ref_json=$(/usr/bin/python3 tests/reference/bench_ref.py --preset "$p" --seq "$seq" --batch 1 --threads "$threads" --steps $steps)
  /usr/bin/python3 - "$p" "$seq" "$threads" "$pha_json" "$ref_json" <<'PY'
import json, sys
p, seq, threads, a, b = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), json.loads(sys.argv[5])
ta = a["tokens_per_s"]; tb = b.get("tokens_per_s")
ma = a["peak_rss_mib"]; mb = b.get("peak_rss_mib", b.get("peak_rss_MiB", float("nan")))
print(f"| {p} | {seq} | 1 | {threads} | {ta:.0f} | {tb:.1f} | {ta/tb:.2f}x | {ma:.0f} | {mb:.0f} |")
PY
done
