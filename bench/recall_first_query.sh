#!/usr/bin/env bash
# First-query recall of trained runs: N prompts "<kv> kA vA kB vB ... <q> kX" (PAIRS distinct keys
# from the first KEYS, distinct values from the first VALUES, X drawn from the document's keys,
# fixed seed), the greedy next token scored against vX. The first query is the one that elimination
# cannot answer (after it, a model that only copies the document's values can name the remaining
# ones), so it tells key matching (1.0) from copying a value of the document (1/PAIRS) and chance
# (1/VALUES). Prints per run: correct, copied (a value of the document), other.
#   bash bench/recall_first_query.sh RUN [RUN ...]   env: N (40), PAIRS (2), KEYS (8), VALUES (8),
#                                                         PHA_BUILD_DIR (build)
set -euo pipefail
cd "$(dirname "$0")/.."
pha=${PHA_BUILD_DIR:-build}/launch/pha
prompts=$(/usr/bin/python3 - "${N:-40}" "${PAIRS:-2}" "${KEYS:-8}" "${VALUES:-8}" <<'PY'
import random, sys
n, pairs, keys, values = map(int, sys.argv[1:])
rng = random.Random(7)
for _ in range(n):
    ks = rng.sample(range(keys), pairs)
    vs = rng.sample(range(values), pairs)
    q = rng.randrange(pairs)
    kv = " ".join(f"k{k:02d} v{v:02d}" for k, v in zip(ks, vs))
    print(f"<kv> {kv} <q> k{ks[q]:02d}|v{vs[q]:02d}|{' '.join(f'v{v:02d}' for v in vs)}")
PY
)
echo "| run | correct | copied another value of the document | other | prompts |"
echo "|---|---|---|---|---|"
for run in "$@"; do
  correct=0 copied=0 other=0
  while IFS='|' read -r prompt answer doc_values; do
    out=$(OMP_NUM_THREADS=1 "$pha" sample --run "$run" --prompt "$prompt" --tokens 1 --temperature 0 2>/dev/null | head -1)
    got=${out#"$prompt "}
    got=${got%% *}
    if [[ $got == "$answer" ]]; then correct=$((correct + 1))
    elif [[ " $doc_values " == *" $got "* ]]; then copied=$((copied + 1))
    else other=$((other + 1)); fi
  done <<<"$prompts"
  echo "| $run | $correct | $copied | $other | $((correct + copied + other)) |"
done
