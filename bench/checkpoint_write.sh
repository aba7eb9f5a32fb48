#!/usr/bin/env bash
# Checkpoint write speed of a pha-125m model on 4 ranks (tp 2 x pp 2, one step of T 128) against
# the raw sequential write speed of the same file system (dd of the same number of bytes, fsync'd),
# measured in this script right after each checkpoint. Prints both and the ratio, for each pha
# binary given (e.g. the previous build and this one).
#   bash bench/checkpoint_write.sh [PHA_BINARY...]     (default: build/launch/pha)
#   env: LAYOUT ("--tp 2 --pp 2")
set -euo pipefail
cd "$(dirname "$0")/.."
binaries=("$@")
[ ${#binaries[@]} -gt 0 ] || binaries=("${PHA_BUILD_DIR:-build}/launch/pha")
work=$(mktemp -d -p "${TMPDIR:-/tmp}")
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
layout=${LAYOUT:-"--tp 2 --pp 2"}
for pha in "${binaries[@]}"; do
  rm -rf "$work/run" "$work/raw"
  # shellcheck disable=SC2086
  mpirun -np 4 --oversubscribe --bind-to none "$pha" train --model.preset=pha-125m \
    --train.seq_len=128 --train.batch_size=1 --train.steps=1 --train.warmup=0 --train.eval_every=0 \
    --train.eval_batches=1 --data.synthetic_tokens=50000 --model.vocab=50257 $layout \
    --run.dir="$work/run" > "$work/log" 2>&1 || { tail -20 "$work/log"; exit 1; }
  line=$(grep "^checkpoint step" "$work/log")
  mb=$(echo "$line" | sed -E 's/.*\(([0-9.]+) MB in ([0-9.]+) s.*/\1/')
  secs=$(echo "$line" | sed -E 's/.*\(([0-9.]+) MB in ([0-9.]+) s.*/\2/')
  file_mb=$(du -m "$work/run/checkpoints/step_00000001/state.h5" | cut -f1)
  start=$(date +%s.%N)
  dd if=/dev/zero of="$work/raw" bs=1M count="$file_mb" conv=fsync status=none
  end=$(date +%s.%N)
  /usr/bin/python3 - "$pha" "$mb" "$secs" "$file_mb" "$start" "$end" <<'PY'
import sys
name = sys.argv[1]
mb, secs, file_mb, start, end = map(float, sys.argv[2:])
pha, raw = mb / secs, file_mb / (end - start)
print(f"{name}: checkpoint {mb:.0f} MB of tensors in {secs:.2f} s = {pha:.0f} MB/s "
      f"(start to commit: write, checksums, verification, fsync, rename); "
      f"raw dd of {file_mb:.0f} MB (fsync) {raw:.0f} MB/s; ratio {pha / raw:.2f}")
PY
done
