#!/usr/bin/env bash
# The CUDA backend is a plugin (core/cuda_plugin.h): pha links no CUDA library, a CPU run loads
# none (two ranks, traced by the dynamic loader), --device cuda loads the plugin (which then says
# why no GPU is usable, or trains where one is), and a missing plugin gets one clear message.
#   bash tests/system/cuda_plugin.sh PHA HAVE_CUDA(0|1) PLUGIN
set -uo pipefail
pha=$1 have_cuda=$2 plugin=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
check() {  # check NAME CONDITION-EXIT-STATUS DETAIL
  if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1: $3"; failures=$((failures + 1)); fi
}
cuda_libs='libcudart|libcublas|libcublasLt|libcufft|libnccl|libcuda\.so'

needed=$(readelf -d "$pha" | grep NEEDED)
! grep -qE "$cuda_libs" <<<"$needed"
check "pha links no CUDA library" $? "$(grep -E "$cuda_libs" <<<"$needed")"

tiny=(--model.preset=tiny --train.seq_len=32 --train.batch_size=2 --train.steps=2 --train.warmup=1
      --train.eval_every=0 --train.eval_batches=1 --data.synthetic_tokens=20000)
# LD_DEBUG=files names every library the loader maps, dlopen included, in each rank.
LD_DEBUG=files LD_DEBUG_OUTPUT="$work/ld" timeout 300 mpirun -np 2 --oversubscribe --bind-to none \
  -x LD_DEBUG -x LD_DEBUG_OUTPUT "$pha" train "${tiny[@]}" --run.dir="$work/cpu" > "$work/cpu.out" 2>&1
rc=$?
check "a CPU run on 2 ranks trains" $rc "exit $rc: $(tail -5 "$work/cpu.out")"
traces=$(ls "$work"/ld.* 2>/dev/null | wc -l)
[ "$traces" -ge 2 ]
check "the loader traced both ranks" $? "$traces trace files"
loaded=$(cat "$work"/ld.* 2>/dev/null | grep -oE "file=[^ ]*($cuda_libs)[^ ]*" | sort -u)
[ -z "$loaded" ]
check "a CPU run loads no CUDA library" $? "$loaded"

if [ "$have_cuda" = 1 ]; then
  [ -f "$plugin" ]
  check "the build made the plugin" $? "$plugin is missing"
  undefined=$(nm -D --undefined-only "$plugin" | grep -c 'pha')
  exported=$(nm -D --defined-only "$plugin" | awk '{print $3}' | sort | tr '\n' ' ')
  [ "$undefined" -eq 0 ] && { [ "$exported" = "pha_cuda_plugin pha_nccl_plugin " ] ||
    [ "$exported" = "pha_cuda_plugin " ]; }
  check "the plugin exports its entry points only and needs nothing of pha" $? \
    "exports: $exported; undefined pha symbols: $undefined"
  # --device cuda loads it: without a GPU the plugin's own message says why.
  if ! nvidia-smi -L > /dev/null 2>&1; then
    LD_DEBUG=files timeout 120 "$pha" train "${tiny[@]}" --run.dir="$work/gpu" --device cuda \
      > "$work/gpu.out" 2>&1
    rc=$?
    grep -q "file=.*libpha_cuda_plugin.so" "$work/gpu.out" &&
      [ "$(grep -c 'pha train: error: --device cuda: no usable CUDA GPU' "$work/gpu.out")" -eq 1 ] &&
      [ "$rc" -ne 0 ]
    check "--device cuda loads the plugin, which says why no GPU is usable" $? \
      "exit $rc: $(grep -v '^ *[0-9]*:' "$work/gpu.out" | tail -3)"
  fi
  # A plugin that is not there: one message naming the file tried and what to do.
  PHA_CUDA_PLUGIN="$work/missing.so" timeout 120 "$pha" train "${tiny[@]}" \
    --run.dir="$work/missing" --device cuda > "$work/missing.out" 2>&1
  rc=$?
  [ "$rc" -ne 0 ] && [ "$(grep -c "missing.so: cannot open shared object file" "$work/missing.out")" -eq 1 ] &&
    grep -q "set PHA_CUDA_PLUGIN to its path, or use --device cpu" "$work/missing.out"
  check "a missing plugin is one clear message" $? "exit $rc: $(cat "$work/missing.out")"
else
  echo "skip the plugin's own checks: this build has no CUDA backend"
fi
echo "$failures cuda-plugin check(s) failed"
[ "$failures" -eq 0 ]
