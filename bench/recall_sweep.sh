#!/usr/bin/env bash
# Zoology-style recall sweep on the built-in corpus (docs/data.md, "Recall difficulty"): final
# validation recall accuracy of attention (serial block: attention then FFN), GSS (gss+ffn) and
# PHA, against model width and key-value pairs per recall document, each trained like the main job
# (launch/configs/main-job.ini: 240 steps of 16 x 128 tokens) on one rank. Recall draws keys from
# KEYS and values from VALUES (chance 1/VALUES); FRACTION of the documents are recall; a document
# holds min(4, PAIRS) to PAIRS pairs. Every block gets the same LR and WARMUP. Prints a Markdown
# table and writes RUN_ROOT/recall_sweep.csv (one row per cell and seed).
#   bash bench/recall_sweep.sh [PHA]   env: WIDTHS ("128 256"), PAIRS ("2 6"), KEYS (16),
#        VALUES (KEYS), FRACTION (0.75), BLOCKS ("serial gss+ffn pha"), STEPS (240), LR (3e-3),
#        WARMUP (STEPS/8), SEEDS (1234), EVAL_BATCHES (16: 128 windows), THREADS (2), LAYERS (4)
set -euo pipefail
cd "$(dirname "$0")/.."
pha=${1:-${PHA_BUILD_DIR:-build}/launch/pha}
root=${RUN_ROOT:-runs/recall-sweep}
widths=${WIDTHS:-"128 256"}
pairs_list=${PAIRS:-"2 6"}
keys=${KEYS:-16}
values=${VALUES:-$keys}
fraction=${FRACTION:-0.75}
blocks=${BLOCKS:-"serial gss+ffn pha"}
steps=${STEPS:-240}
lr=${LR:-3e-3}
warmup=${WARMUP:-$((steps / 8))}
seeds=${SEEDS:-1234}
eval_batches=${EVAL_BATCHES:-16}
threads=${THREADS:-2}
layers=${LAYERS:-4}
mkdir -p "$root"
csv=$root/recall_sweep.csv
echo "block,d,layers,pairs,keys,values,fraction,lr,warmup,steps,seed,parameters,val_loss,val_recall,val_answers,seconds" >"$csv"
for d in $widths; do
  for pairs in $pairs_list; do
    for block in $blocks; do
      for seed in $seeds; do
        run=$root/${block//+/_}-d$d-l$layers-p$pairs-s$seed
        rm -rf "$run"
        start=$(date +%s.%N)
        OMP_NUM_THREADS=$threads "$pha" train --config launch/configs/main-job.ini \
          --parallel.dp=1 --parallel.pp=1 --train.batch_size=8 --train.steps="$steps" \
          --train.lr="$lr" --train.min_lr="$(awk "BEGIN { print $lr / 10 }")" --train.warmup="$warmup" \
          --train.seed="$seed" --train.eval_every="$steps" --train.eval_batches="$eval_batches" \
          --train.threads="$threads" --model.block="$block" --model.d="$d" --model.n_layers="$layers" \
          --model.d_ff=$((3 * d)) --model.gss_f=$((3 * d / 2)) --model.gss_h=$((d / 4)) \
          --data.mqar_fraction="$fraction" --data.mqar_max_pairs="$pairs" \
          --data.mqar_keys="$keys" --data.mqar_values="$values" --run.dir="$run" >"$run.log" 2>&1 ||
          { tail -5 "$run.log"; exit 1; }
        secs=$(echo "$(date +%s.%N) - $start" | bc)
        params=$(grep -m1 -oE '^parameters: [0-9]+' "$run.log" | grep -oE '[0-9]+')
        answers=$(grep -oE 'recall accuracy [0-9.]+ over [0-9]+' "$run.log" | tail -1 | grep -oE '[0-9]+$')
        /usr/bin/python3 - "$run/metrics.jsonl" "$block,$d,$layers,$pairs,$keys,$values,$fraction,$lr,$warmup,$steps,$seed" \
          "$params" "$answers" "$secs" >>"$csv" <<'PY'
import json, sys
path, cell, params, answers, secs = sys.argv[1:]
last = [r for r in map(json.loads, open(path)) if r.get("kind") == "eval"][-1]
print(f"{cell},{params},{last['val_loss']:.4f},{last.get('val_recall', 0):.3f},{answers},{float(secs):.0f}")
PY
      done
    done
  done
done
/usr/bin/python3 - "$csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print("| block | d | pairs | keys | values | lr | seed | parameters | val loss | val recall (answers) | s |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['block']} | {r['d']} | {r['pairs']} | {r['keys']} | {r['values']} | {r['lr']} | {r['seed']} "
          f"| {int(r['parameters'])/1e6:.2f}M | {r['val_loss']} | {r['val_recall']} ({r['val_answers']}) | {r['seconds']} |")
PY
