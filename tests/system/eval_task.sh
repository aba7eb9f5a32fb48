#!/usr/bin/env bash
# `pha eval --task` end to end: a small model trained on a text of eight sentences repeated in
# random order (byte tokenizer) must pick each sentence's true ending among the endings of the
# others: accuracy >= 0.75 both by the log-likelihood sum and per token (chance 0.25; 100 steps
# reach 1.0 here), and an untrained model's accuracy is printed for contrast. Also: --task-out writes one JSON line per
# item whose picks agree with the accuracies, and bad task files or option mixes are refused
# with one message.
#   eval_task.sh PHA
set -euo pipefail
pha=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
/usr/bin/python3 - "$work" <<'PY'
import json, random, sys
work = sys.argv[1]
rng = random.Random(7)
sentences = [("The red fox", " jumps over the lazy dog."), ("A small bird", " sings in the old tree."),
             ("My brother", " reads a book every night."), ("The tall ship", " sails to the far island."),
             ("Green apples", " fall from the garden wall."), ("The cold wind", " blows across the hills."),
             ("Two children", " play with a yellow ball."), ("An old clock", " ticks on the kitchen shelf.")]
with open(f"{work}/text.txt", "w") as f:
    for _ in range(3000):
        a, b = rng.choice(sentences)
        f.write(a + b + "\n")
with open(f"{work}/task.jsonl", "w") as f:
    for i, (a, b) in enumerate(sentences):
        others = [s[1] for j, s in enumerate(sentences) if j != i]
        choices = rng.sample(others, 3) + [b]
        rng.shuffle(choices)
        f.write(json.dumps({"context": a, "choices": choices, "answer": choices.index(b)}) + "\n")
PY
"$pha" data prepare --input "$work/text.txt" --out "$work/shards" --tokenizer byte \
  --val-fraction 0.05 > /dev/null
args=(--model.preset=tiny --model.d=64 --model.n_q=4 --model.n_kv=2 --model.d_ff=128
      --model.gss_f=96 --model.gss_h=16 --model.dss_n=16 --model.n_layers=2 --model.vocab=256
      --model.max_seq_len=64 --train.seq_len=64 --train.batch_size=8 --train.lr=3e-3
      --train.warmup=10 --train.eval_every=0 --train.eval_batches=2 --train.seed=3
      --data.train="$work/shards/train.bin" --data.val="$work/shards/val.bin")
"$pha" train "${args[@]}" --train.steps=100 --run.dir="$work/run" > "$work/train.log"
"$pha" train "${args[@]}" --train.steps=1 --train.lr=1e-9 --train.min_lr=0 --train.warmup=0 \
  --run.dir="$work/untrained" > /dev/null
"$pha" eval --run "$work/untrained" --task "$work/task.jsonl" | tee "$work/untrained.txt"
"$pha" eval --run "$work/run" --task "$work/task.jsonl" --task-out "$work/items.jsonl" \
  | tee "$work/trained.txt"
/usr/bin/python3 - "$work" <<'PY'
import json, re, sys
work = sys.argv[1]
text = open(f"{work}/trained.txt").read()
m = re.search(r"(\d+) items \| accuracy ([0-9.]+) by log-likelihood sum \((\d+) right\) \| ([0-9.]+) by log-likelihood per token \((\d+) right\)", text)
n, acc_sum, right_sum, acc_tok, right_tok = int(m[1]), float(m[2]), int(m[3]), float(m[4]), int(m[5])
rows = [json.loads(l) for l in open(f"{work}/items.jsonl")]
ok = n == 8 and len(rows) == 8 and acc_sum >= 0.75 and acc_tok >= 0.75
ok &= sum(r["pick_sum"] == r["answer"] for r in rows) == right_sum
ok &= sum(r["pick_per_token"] == r["answer"] for r in rows) == right_tok
ok &= all(r["pick_sum"] == max(range(len(r["logprob"])), key=lambda c: (r["logprob"][c], -c)) for r in rows)
ok &= all(len(r["tokens"]) == 4 and all(t > 0 for t in r["tokens"]) for r in rows)
print(f"trained: accuracy {acc_sum} (sum), {acc_tok} (per token) over {n} items, required >= 0.75; "
      f"per-item file agrees: {ok}")
sys.exit(0 if ok else 1)
PY

refuse() {  # refuse NAME EXPECTED-FRAGMENT ARGS...
  local name=$1 want=$2
  shift 2
  if "$pha" "$@" > "$work/out.txt" 2>&1; then
    echo "FAIL ($name): accepted"; exit 1
  fi
  if ! grep -q -- "$want" "$work/out.txt" || [ "$(wc -l < "$work/out.txt")" -ne 1 ]; then
    echo "FAIL ($name): expected one line containing '$want':"; cat "$work/out.txt"; exit 1
  fi
  echo "refused ($name): $(cat "$work/out.txt")"
}
printf '{"context": "a", "choices": ["b", "c"], "answer": 1}\n{"context": "a", "choices": ["b"\n' > "$work/bad1.jsonl"
refuse malformed "bad1.jsonl line 2: invalid JSON at column 33" eval --run "$work/run" --task "$work/bad1.jsonl"
printf '{"context": "a", "choices": ["b", "c"], "answer": 2}\n' > "$work/bad2.jsonl"
refuse answer "answer 2 is out of range" eval --run "$work/run" --task "$work/bad2.jsonl"
printf '{"context": "a", "choices": [], "answer": 0}\n' > "$work/bad3.jsonl"
refuse empty-choices "0 choice(s)" eval --run "$work/run" --task "$work/bad3.jsonl"
refuse missing "does not exist" eval --run "$work/run" --task "$work/none.jsonl"
refuse with-data "without --data" eval --run "$work/run" --task "$work/task.jsonl" --data x.bin
refuse tokenizer "is not the run's" eval --run "$work/run" --task "$work/task.jsonl" --tokenizer synthetic
echo "eval_task: all checks passed"
