#!/usr/bin/env bash
# sgemm GFLOP/s of pha's shapes under each OpenBLAS kernel (OPENBLAS_CORETYPE) and under Debian's
# BLIS (auto-detected and forced kernels), on 1 and 2 threads: the figures behind the choice of
# PHA_BLAS_CORETYPE=auto (docs/results.md). Rounds are interleaved and the best of the rounds is
# kept, so a burst of load on a shared machine hits every column alike.
#   bench/blas_kernels.sh BUILD_DIR [ROUNDS (2)] [SECONDS PER SHAPE (0.3)]
set -euo pipefail
build=$1
rounds=${2:-2}
budget=${3:-0.3}
openblas=$build/bench/pha_bench_sgemm
blis=$build/bench/pha_bench_sgemm_blis
out=$(mktemp)
trap 'rm -f "$out"' EXIT
configs=("openblas Prescott" "openblas Haswell" "openblas SkylakeX" "openblas Cooperlake")
if [ -x "$blis" ]; then
  # BLIS 0.9.0 takes BLIS_ARCH_TYPE as its arch_t number: 0 skx, 3 haswell; "" = its own choice.
  configs+=("blis -" "blis 0" "blis 3")
else
  echo "note: $blis not built (install libblis-dev and re-run cmake): BLIS columns left out" >&2
fi
for round in $(seq "$rounds"); do
  for threads in 1 2; do
    for config in "${configs[@]}"; do
      read -r lib kernel <<< "$config"
      if [ "$lib" = openblas ]; then
        OPENBLAS_CORETYPE=$kernel "$openblas" "$threads" "$budget" >> "$out"
      elif [ "$kernel" = - ]; then
        env -u BLIS_ARCH_TYPE OMP_NUM_THREADS="$threads" "$blis" "$threads" "$budget" >> "$out"
      else
        BLIS_ARCH_TYPE=$kernel OMP_NUM_THREADS="$threads" "$blis" "$threads" "$budget" >> "$out"
      fi
    done
  done
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys
best, columns, shapes = {}, [], []
for line in open(sys.argv[1]):
    r = json.loads(line)
    col = f'{r["blas"].split()[0]} {r["kernel"]}'
    if col not in columns: columns.append(col)
    if r["shape"] not in shapes: shapes.append(r["shape"])
    key = (r["threads"], r["shape"], col)
    best[key] = max(best.get(key, 0), r["gflops"])
for threads in (1, 2):
    print(f"\nsgemm GFLOP/s, {threads} thread(s), best of the rounds")
    print("| shape (m x n x k) | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for s in shapes:
        print(f"| {s} | " + " | ".join(f'{best.get((threads, s, c), 0):.0f}' for c in columns) + " |")
PY
