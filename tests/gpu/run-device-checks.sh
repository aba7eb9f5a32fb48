#!/usr/bin/env bash
# Device checks of the CUDA backend, run from the repository root on a machine with a GPU:
#
#   bash tests/gpu/run-device-checks.sh [BUILD_DIR]        (default build-device)
#
# 1. configure: a CUDA build (cmake -DPHA_CUDA=ON, sm_${PHA_CUDA_ARCH:-90}). The GPU machines
#    lack pha's other dependencies (MPI, HDF5, OpenBLAS, FFTW, Boost); when the full configure
#    fails it configures tests/gpu/standalone instead (pha_cuda, the CPU backend as the tests'
#    reference, layers/, optim/, the GPU tests, pha_bench_gpu), with fmt, GoogleTest, FFTW and a
#    CBLAS from .device-deps: run tests/gpu/pack-device-deps.sh on a build machine first and carry
#    .device-deps.
# 2. build: pha_cuda, every tests/gpu/*_test.cpp (new files are picked up) and pha_bench_gpu.
# 3. tests: ctest -R cuda (prints each check's measured error).
# 4. bench: pha_bench_gpu --sweep (T 1024/4096/8192 x serial-125m/pha-125m: tokens/s, MFU, peak
#    memory, PHA/serial ratios); its table is repeated in the summary. $PHA_BENCH_ARGS replaces
#    the default sweep arguments.
# 5. memcheck: compute-sanitizer --tool memcheck over every GPU op test, when installed.
# 6. racecheck: compute-sanitizer --tool racecheck (shared-memory hazards) over the ops whose
#    kernels share memory within a block (attention, row reductions, embedding, column sums,
#    cross-entropy), on their smaller cases ($PHA_RACECHECK_FILTER overrides the gtest filter).
# 7. a summary; the exit status is non-zero when a step failed.
# Each step has its own time limit and all of them a shared deadline, so the script ends within
# about 8 minutes whatever happens (expected 6-7 on 16 cores). Logs go to $OUT (the device tool's
# folder that comes back) when set, else to BUILD_DIR/device-logs.
set -euo pipefail

build=${1:-build-device}
arch=${PHA_CUDA_ARCH:-90}
logs=${OUT:-$build/device-logs}
deadline=$((SECONDS + 460))
summary=()
bench_table=""
failed=0
mkdir -p "$logs"

# step NAME LIMIT_S CMD...: runs CMD with its output in $logs/NAME.log, for at most LIMIT_S
# seconds (fewer when the deadline is nearer); records the outcome; returns CMD's status.
step() {
  local name=$1 limit=$2
  shift 2
  local left=$((deadline - SECONDS))
  ((left < limit)) && limit=$left
  if ((limit < 15)); then
    summary+=("$name: not run (out of time)")
    failed=1
    return 1
  fi
  echo "== $name (limit ${limit}s): $*"
  local t0=$SECONDS rc=0
  timeout --kill-after=10 "$limit" "$@" >"$logs/$name.log" 2>&1 || rc=$?
  local took=$((SECONDS - t0))
  if ((rc == 0)); then
    summary+=("$name: ok (${took}s)")
    return 0
  fi
  local why="exit $rc"
  ((rc == 124 || rc == 137)) && why="timed out"
  summary+=("$name: FAILED, $why (${took}s), log $logs/$name.log")
  tail -n 40 "$logs/$name.log"
  return "$rc"
}

finish() {
  echo
  echo "== summary (${SECONDS}s)"
  printf '  %s\n' "${summary[@]}"
  if [[ -n $bench_table ]]; then printf '%s\n' "$bench_table"; fi
  if ((failed)); then echo "device checks: FAILED"; else echo "device checks: passed"; fi
  exit "$failed"
}

echo "== GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
  2>/dev/null || echo 'nvidia-smi not available')"

# ---- 1. configure ----
config=(-G Ninja -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CUDA_ARCHITECTURES=$arch")
if ! step configure 120 cmake -S . -B "$build" -DPHA_CUDA=ON "${config[@]}"; then
  echo "   the full configure failed (see above); configuring tests/gpu/standalone instead"
  build=$build-standalone
  if ! step configure-standalone 120 cmake -S tests/gpu/standalone -B "$build" "${config[@]}"; then
    failed=1
    finish
  fi
  summary[0]="configure: failed, used tests/gpu/standalone"
fi

# ---- 2. build ----
targets=(pha_cuda pha_bench_gpu)
configured=$(cmake --build "$build" --target help 2>/dev/null || true)
# The full build (MPI, HDF5 present) also has the trainer: step 3b runs `pha train --device cuda`.
grep -qw "pha" <<<"$configured" && targets+=(pha)
for src in tests/gpu/*_test.cpp; do
  name=$(basename "$src" .cpp)
  # nccl_communicator_test is configured only where the toolkit has NCCL.
  if grep -qw "$name" <<<"$configured"; then
    targets+=("$name")
  else
    summary+=("build: $name not configured (no NCCL found?)")
  fi
done
if ! step build 240 cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"; then
  failed=1
  finish
fi

# ---- 3. tests ----
if step tests 150 ctest --test-dir "$build" -R cuda -V --output-on-failure; then :; else failed=1; fi
grep -E "Test +#[0-9]+:|rel error|visible GPUs|Failure|tests passed" "$logs/tests.log" | sed 's/^[0-9]*: //' || true

# ---- 3b. pha train --device cuda vs --device cpu (full build only) ----
# The tiny preset, 30 steps on one rank: the bf16 GPU run's final training loss must be within 5%
# of the CPU's (the same data, initialisation and schedule).
train_compare() {
  local pha=$1 dir=$2
  local common=(--model.preset=tiny --train.steps=30 --train.warmup=5 --train.seq_len=128
    --train.batch_size=8 --train.eval_every=0 --train.eval_batches=2
    --data.synthetic_tokens=200000)
  "$pha" train "${common[@]}" --run.dir="$dir/cpu" --device cpu || return 1
  "$pha" train "${common[@]}" --run.dir="$dir/gpu" --device cuda --precision bf16 || return 1
  /usr/bin/env python3 - "$dir" <<'PY'
import json, sys
def last_loss(run):
    records = [json.loads(line) for line in open(f"{run}/metrics.jsonl")]
    return [r for r in records if r.get("kind") == "step"][-1]["loss"]
cpu, gpu = last_loss(sys.argv[1] + "/cpu"), last_loss(sys.argv[1] + "/gpu")
print(f"final training loss: cpu {cpu:.4f}, cuda bf16 {gpu:.4f}, rel {abs(gpu - cpu) / cpu:.3e} (tol 5e-2)")
sys.exit(0 if abs(gpu - cpu) <= 0.05 * cpu else 1)
PY
}
export -f train_compare
pha_bin=$build/launch/pha
if [[ ! -x $pha_bin ]]; then
  summary+=("train: not run (the standalone build has no pha: MPI/HDF5 missing)")
elif ! nvidia-smi -L >/dev/null 2>&1; then
  summary+=("train: not run (no GPU: nvidia-smi -L failed)")
elif step train 120 bash -c 'train_compare "$0" "$1"' "$pha_bin" "$logs/train-runs"; then
  grep -E "final training loss|machine:" "$logs/train.log" || true
else
  failed=1
fi

# ---- 4. bench ----
# About 60-90 s on an H100: 16k tokens a step, 1 warm-up and 3 timed steps per configuration; no
# configuration starts after 60 s (the rest are listed as skipped), one that does not fit is
# skipped with the allocation that failed.
bench_bin=$(find "$build" -name pha_bench_gpu -type f -perm -u+x | head -n 1)
read -r -a bench_args <<<"${PHA_BENCH_ARGS:---sweep --tokens 16384 --warmup 1 --steps 3 --time-budget-s 60}"
if [[ -z $bench_bin ]]; then
  summary+=("bench: not run (pha_bench_gpu was not built)")
  failed=1
elif ! nvidia-smi -L >/dev/null 2>&1; then
  summary+=("bench: not run (no GPU: nvidia-smi -L failed)")  # as the tests skip
elif step bench 110 "$bench_bin" "${bench_args[@]}"; then
  bench_table=$(sed -n '/^forward+backward/,$p' "$logs/bench.log")
  echo "$bench_table"
else
  failed=1
fi

# ---- 5. memcheck, 6. racecheck ----
sanitizer=$(command -v compute-sanitizer || true)
for candidate in /usr/local/cuda/bin/compute-sanitizer \
  /usr/local/cuda/compute-sanitizer/compute-sanitizer; do
  [[ -z $sanitizer && -x $candidate ]] && sanitizer=$candidate
done
op_tests=()
for name in cuda_ops_test cuda_norms_test cuda_loss_test cuda_vocab_parallel_test cuda_mixer_test \
  cuda_attention_test cuda_conv_dss_test cuda_optim_test; do
  bin=$(find "$build" -name "$name" -type f -perm -u+x | head -n 1)
  [[ -n $bin ]] && op_tests+=("$bin")
done

# sanitize TOOL FILTER BINARY...: runs each binary's cuda_* tests under the tool, in turn.
sanitize() {
  local tool=$1 filter=$2 rc=0
  shift 2
  for bin in "$@"; do
    echo "-- $tool $(basename "$bin")"
    "$sanitizer" --tool "$tool" --error-exitcode 1 --print-limit 20 "$bin" \
      --gtest_filter="$filter" --gtest_brief=1 || rc=1
  done
  return $rc
}
export -f sanitize
export sanitizer

race_filter=${PHA_RACECHECK_FILTER:-'cuda_attention.F32:cuda_attention.Bf16:cuda_norms.RmsNorm:cuda_norms.LayerNorm:cuda_norms.Softmax:cuda_loss.*:cuda_vocab_parallel.*:cuda_mixer.ChannelFma:cuda_mixer.Mix'}
if [[ -z $sanitizer ]]; then
  summary+=("memcheck: not run (compute-sanitizer not found)")
  summary+=("racecheck: not run (compute-sanitizer not found)")
else
  if step memcheck 150 bash -c 'sanitize memcheck "cuda_*" "$@"' _ "${op_tests[@]}"; then
    grep -E "^-- |ERROR SUMMARY" "$logs/memcheck.log" || true
  else
    failed=1
  fi
  race_bins=()
  for bin in "${op_tests[@]}"; do
    case $(basename "$bin") in
      cuda_attention_test | cuda_norms_test | cuda_loss_test | cuda_vocab_parallel_test | \
        cuda_mixer_test) race_bins+=("$bin") ;;
    esac
  done
  if step racecheck 150 bash -c 'sanitize racecheck "$0" "$@"' "$race_filter" "${race_bins[@]}"; then
    grep -E "^-- |RACECHECK SUMMARY|ERROR SUMMARY" "$logs/racecheck.log" || true
  else
    failed=1
  fi
fi

finish
