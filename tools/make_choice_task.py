#!/usr/bin/python3
"""Makes a multiple-choice task file for `pha eval --task` from a plain-text play: each item's
context is a line of a speech, the right choice is the line that follows it in the same speech,
and the distractors are the following lines of other, randomly drawn, speeches. Speaker lines
("First Citizen:") and blank lines are skipped. Items come from the last `--tail` share of the
file: held out only from a run that trained on the rest (`pha data prepare` spreads its own
validation split through the whole corpus, so a run on the whole file has seen these lines).

  /usr/bin/python3 tools/make_choice_task.py ../shared/data/tinyshakespeare/input.txt \\
      --out data/tasks/shakespeare_next_line.jsonl [--items 200 --choices 4 --seed 1234]
"""
import argparse
import json
import random


def line_pairs(lines, max_chars):
    """(line, next line) of the same speech, both at most max_chars long."""
    pairs = []
    for a, b in zip(lines, lines[1:]):
        speech = a and b and not a.endswith(":") and not b.endswith(":")
        if speech and len(a) <= max_chars and len(b) <= max_chars:
            pairs.append((a, b))
    return pairs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("text")
    ap.add_argument("--out", required=True)
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--choices", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--tail", type=float, default=0.1, help="share of the file to draw from")
    ap.add_argument("--max-chars", type=int, default=60, help="longest line used")
    a = ap.parse_args()
    lines = [l.strip() for l in open(a.text, encoding="utf-8").read().split("\n")]
    lines = lines[int(len(lines) * (1 - a.tail)):]
    pairs = line_pairs(lines, a.max_chars)
    if len(pairs) < a.items + a.choices:
        raise SystemExit(f"make_choice_task: only {len(pairs)} line pairs in {a.text}")
    rng = random.Random(a.seed)
    chosen = rng.sample(range(len(pairs)), a.items)
    with open(a.out, "w", encoding="utf-8") as out:
        for i in chosen:
            context, right = pairs[i]
            wrong = set()
            while len(wrong) < a.choices - 1:
                j = rng.randrange(len(pairs))
                if pairs[j][1] != right:
                    wrong.add(pairs[j][1])
            choices = [right] + sorted(wrong)
            rng.shuffle(choices)
            item = {"context": context + "\n", "choices": [c + "\n" for c in choices],
                    "answer": choices.index(right)}
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"make_choice_task: wrote {a.items} items of {a.choices} choices to {a.out}")


if __name__ == "__main__":
    main()
