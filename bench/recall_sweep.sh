#!/usr/bin/env bash
# Zoology-style recall sweep on the built-in corpus (docs/data.md, "Recall difficulty"): final
# validation recall accuracy of attention (serial block: attention then FFN), GSS (gss+ffn) and
# PHA, against model width and key-value pairs per recall document, each trained like the main job
# (launch/configs/main-job.ini: 240 steps of 16 x 128 tokens) on one rank. Recall draws from
# KEYS keys and values (chance 1/KEYS); 3 documents in 4 are recall. Prints a Markdown table and
# writes RUN_ROOT/recall_sweep.csv.
#   bash bench/recall_sweep.sh [PHA]          env: WIDTHS ("128 256"), PAIRS ("2 6"), KEYS (16),
#                                                  BLOCKS ("serial gss+ffn pha"), STEPS (240), THREADS (2)
set -euo pipefail
cd "$(dirname "$0")/.."
pha=${1:-${PHA_BUILD_DIR:-build}/launch/pha}
root=${RUN_ROOT:-runs/recall-sweep}
widths=${WIDTHS:-"128 256"}
pairs_list=${PAIRS:-"2 6"}
keys=${KEYS:-16}
blocks=${BLOCKS:-"serial gss+ffn pha"}
steps=${STEPS:-240}
threads=${THREADS:-2}
mkdir -p "$root"
csv=$root/recall_sweep.csv
echo "block,d,pairs,keys,parameters,val_loss,val_recall,seconds" >"$csv"
for d in $widths; do
  for pairs in $pairs_list; do
    for block in $blocks; do
      run=$root/${block//+/_}-d$d-p$pairs
      rm -rf "$run"
      start=$(date +%s.%N)
      OMP_NUM_THREADS=$threads "$pha" train --config launch/configs/main-job.ini \
        --parallel.dp=1 --parallel.pp=1 --train.batch_size=8 --train.steps="$steps" --train.warmup=$((steps / 8)) \
        --train.eval_every="$steps" --train.threads="$threads" --model.block="$block" \
        --model.d="$d" --model.d_ff=$((3 * d)) --model.gss_f=$((3 * d / 2)) \
        --model.gss_h=$((d / 4)) --data.mqar_max_pairs="$pairs" --data.mqar_keys="$keys" \
        --data.mqar_values="$keys" --run.dir="$run" >"$run.log" 2>&1 ||
        { tail -5 "$run.log"; exit 1; }
      secs=$(echo "$(date +%s.%N) - $start" | bc)
      params=$(grep -m1 -oE '^parameters: [0-9]+' "$run.log" | grep -oE '[0-9]+')
      /usr/bin/python3 - "$run/metrics.jsonl" "$block" "$d" "$pairs" "$keys" "$params" "$secs" >>"$csv" <<'PY'
import json, sys
path, block, d, pairs, keys, params, secs = sys.argv[1:]
last = [r for r in map(json.loads, open(path)) if r.get("kind") == "eval"][-1]
print(f"{block},{d},{pairs},{keys},{params},{last['val_loss']:.4f},{last.get('val_recall', 0):.3f},{float(secs):.0f}")
PY
    done
  done
done
/usr/bin/python3 - "$csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print("| block | d | pairs | parameters | val loss | val recall | s |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['block']} | {r['d']} | {r['pairs']} | {int(r['parameters'])/1e6:.2f}M | {r['val_loss']} | {r['val_recall']} | {r['seconds']} |")
PY
