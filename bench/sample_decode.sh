#!/usr/bin/env bash
# Decode speed of `pha sample` (incremental decoder: KV cache + GSS recurrence) on 1 thread, for
# the tiny preset and the pha-125m size (untrained weights: speed does not depend on the values;
# one training step writes the weights file). Baseline in the same run: the --check forward over
# the whole sequence, i.e. what one token would cost without the decoder's state (a full forward
# over the prefix per token, here at the final length).
#   bench/sample_decode.sh PHA [TOKENS]
set -euo pipefail
pha=$1
tokens=${2:-128}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
for i in $(seq 200); do echo "The red fox jumps over the lazy dog. A small bird sings."; done \
  > "$work/text.txt"
"$pha" data prepare --input "$work/text.txt" --out "$work/shards" --tokenizer byte \
  --val-fraction 0.05 > /dev/null
prompt="The red fox jumps over the lazy dog. A small bird sings in the old tree."
echo "| model | parameters | prompt | prefill tokens/s (CPU) | decode tokens/s (CPU) | full forward over S, CPU s | per token, decode vs full forward |"
echo "|---|---|---|---|---|---|---|"
for preset in tiny pha-125m; do
  vocab=256
  [ "$preset" = pha-125m ] && vocab=50257
  "$pha" train --model.preset=$preset --model.vocab=$vocab --model.max_seq_len=512 \
    --train.seq_len=16 --train.batch_size=1 --train.steps=1 --train.warmup=0 \
    --train.eval_every=0 --train.eval_batches=1 --train.ckpt_every=0 \
    --data.train="$work/shards/train.bin" --data.val="$work/shards/val.bin" \
    --run.dir="$work/$preset" > "$work/$preset.log"
  params=$(grep -oE "^parameters: [0-9]+ \(([0-9.]+M)\)" "$work/$preset.log" | grep -oE "[0-9.]+M")
  "$pha" sample --run "$work/$preset" --prompt "$prompt" --tokens "$tokens" --seed 1 --check \
    2> "$work/$preset.err" > /dev/null
  /usr/bin/python3 - "$work/$preset.err" "$preset" "$params" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
pre = re.search(r"prefill (\d+) tokens in [0-9.]+ s \([^;]+; CPU ([0-9.]+) s", text)
dec = re.search(r"decode (\d+) tokens in [0-9.]+ s \([^;]+; CPU ([0-9.]+) s", text)
chk = re.search(r"over (\d+) positions \([0-9.]+ s, CPU ([0-9.]+) s\), worst relative logit difference ([0-9.e+-]+)", text)
p_tok, p_cpu = int(pre[1]), float(pre[2])
d_tok, d_cpu = int(dec[1]), float(dec[2])
s_len, f_cpu, err = int(chk[1]), float(chk[2]), chk[3]
print(f"| {sys.argv[2]} | {sys.argv[3]} | {p_tok} tokens | {p_tok / p_cpu:.0f} | {d_tok / d_cpu:.1f} | "
      f"{f_cpu:.3f} (S = {s_len}; check {err}) | {f_cpu / (d_cpu / d_tok):.1f}x |")
PY
done
