#!/usr/bin/env bash
# `pha sample` end to end: a small model trained on two sentences repeated (byte tokenizer) must
# continue "The red" greedily with the memorised sentence; the decoder's logits must match the
# full forward at every position (--check) both greedy and sampling; the same seed must give the
# same text and another seed another; bad invocations (missing run directory, no prompt, too many
# tokens, bad sampler options, another tokenizer) are refused with one message.
#   sample.sh PHA
set -euo pipefail
pha=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
for i in $(seq 400); do
  echo "The red fox jumps over the lazy dog. A small bird sings in the old tree."
done > "$work/text.txt"
"$pha" data prepare --input "$work/text.txt" --out "$work/shards" --tokenizer byte \
  --val-fraction 0.05 > /dev/null
"$pha" train --model.preset=tiny --model.d=64 --model.n_q=4 --model.n_kv=2 --model.d_ff=128 \
  --model.gss_f=96 --model.gss_h=16 --model.dss_n=16 --model.n_layers=2 --model.vocab=256 \
  --model.max_seq_len=128 --train.seq_len=64 --train.batch_size=8 --train.lr=3e-3 \
  --train.warmup=5 --train.eval_every=0 --train.eval_batches=1 --train.steps=80 --train.seed=3 \
  --data.train="$work/shards/train.bin" --data.val="$work/shards/val.bin" \
  --run.dir="$work/run" > "$work/train.log"

sample() {  # sample NAME ARGS...: stdout to NAME.txt, stderr to NAME.err
  local name=$1
  shift
  "$pha" sample --run "$work/run" "$@" > "$work/$name.txt" 2> "$work/$name.err"
  echo "$name: $(head -c 200 "$work/$name.txt" | tr '\n' '|')"
  cat "$work/$name.err"
}
sample greedy --prompt "The red" --tokens 40 --temperature 0 --check
grep -q "^The red fox jumps over the lazy dog" "$work/greedy.txt" \
  || { echo "FAIL: the greedy continuation is not the memorised sentence"; exit 1; }
grep -q "check PASSED" "$work/greedy.err"
grep -Eq "prefill 7 tokens in [0-9.]+ s \([0-9.]+ tokens/s; CPU [^)]*\) \| decode 39 tokens in [0-9.]+ s \([0-9.]+ tokens/s; CPU [^)]*\)" \
  "$work/greedy.err" || { echo "FAIL: no tokens/s line"; exit 1; }
sample seed5 --prompt "A small" --tokens 60 --top-k 8 --top-p 0.95 --temperature 1.5 --seed 5 --check
grep -q "check PASSED" "$work/seed5.err"
sample seed5_again --prompt "A small" --tokens 60 --top-k 8 --top-p 0.95 --temperature 1.5 --seed 5
sample seed6 --prompt "A small" --tokens 60 --top-k 8 --top-p 0.95 --temperature 1.5 --seed 6
cmp "$work/seed5.txt" "$work/seed5_again.txt" || { echo "FAIL: seed 5 twice gave two texts"; exit 1; }
if cmp -s "$work/seed5.txt" "$work/seed6.txt"; then
  echo "FAIL: seeds 5 and 6 gave the same text"; exit 1
fi

refuse() {  # refuse NAME EXPECTED-FRAGMENT ARGS...
  local name=$1 want=$2
  shift 2
  if "$pha" sample "$@" > "$work/out.txt" 2>&1; then
    echo "FAIL ($name): accepted"; exit 1
  fi
  if ! grep -q -- "$want" "$work/out.txt" || [ "$(wc -l < "$work/out.txt")" -ne 1 ]; then
    echo "FAIL ($name): expected one line containing '$want':"; cat "$work/out.txt"; exit 1
  fi
  echo "refused ($name): $(cat "$work/out.txt")"
}
refuse missing-run "the run directory '$work/none' does not exist" --run "$work/none" --prompt "x"
refuse no-prompt "give --prompt TEXT" --run "$work/run"
refuse empty-prompt "the prompt encodes to no tokens" --run "$work/run" --prompt ""
refuse too-long "need 206 positions, more than the model's max_seq_len = 128" \
  --run "$work/run" --prompt "The red" --tokens 200
refuse temperature "temperature -1 must be >= 0" --run "$work/run" --prompt "x" --temperature -1
refuse top-p "top-p 1.5 must be in (0, 1]" --run "$work/run" --prompt "x" --top-p 1.5
refuse tokenizer "is not the run's" --run "$work/run" --prompt "the" --tokenizer synthetic
echo "sample: all checks passed"
