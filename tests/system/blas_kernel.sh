#!/usr/bin/env bash
# The BLAS kernel policy (core/cpu/blas_kernel.h) is applied, and the header reports it:
#   1. OPENBLAS_CORETYPE=Prescott + PHA_BLAS_CORETYPE=best: pha re-executes itself and the header
#      reports the fastest kernel for the CPU (SkylakeX with AVX-512, Haswell with AVX2),
#      on one rank and on two under mpirun (each rank re-executes before MPI_Init);
#   2. OPENBLAS_CORETYPE unset + auto, and + best: a kernel of that class runs (on an AVX-512 +
#      BF16 machine OpenBLAS picks Cooperlake itself, and pha re-executes with SkylakeX; on an
#      AMD AVX2 machine OpenBLAS's own Zen, Haswell's equal, is kept);
#   3. OPENBLAS_CORETYPE=Prescott + auto: the user's choice is kept, and the note names the faster one;
#   4. an unknown PHA_BLAS_CORETYPE is refused with exit status 2;
#   5. the step line and metrics.jsonl carry both denominators (measured sgemm, FMA peak).
# The expected kernel comes from /proc/cpuinfo, not from pha's own cpuid code.
#   blas_kernel.sh PHA
set -euo pipefail
pha=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
flags=" $(grep -m1 '^flags' /proc/cpuinfo) "
has() { for f in "$@"; do [[ $flags == *" $f "* ]] || return 1; done; }
# want: what a re-execution asks for; class: the kernels as fast as it (an extended regex).
if has avx512f avx512bw avx512vl avx512dq; then
  want=SkylakeX class=SkylakeX
elif has avx2 fma; then
  want=Haswell class='Haswell|Zen'
else
  want=Prescott class='Prescott|Core2|Penryn|Dunnington|Nehalem|Atom|Barcelona|Opteron'
fi
in_class() { [[ $1 =~ ^($class)$ ]]; }
common=(--model.preset=tiny --model.max_seq_len=64 --train.seq_len=32 --train.batch_size=1
        --train.steps=1 --train.warmup=1 --train.eval_every=0 --train.eval_batches=1
        --data.synthetic_tokens=20000)
fail() { echo "FAIL: $*"; exit 1; }
kernel_of() { sed -n 's/^blas: .* | kernel \([A-Za-z0-9]*\) | .*/\1/p' "$1"; }

# 1. best, over an explicit slow kernel, on one and two ranks
OPENBLAS_CORETYPE=Prescott PHA_BLAS_CORETYPE=best "$pha" train "${common[@]}" \
  --run.dir="$work/best" > "$work/best.log" 2>&1 || { cat "$work/best.log"; fail "best: pha failed"; }
got=$(kernel_of "$work/best.log")
[ "$got" = "$want" ] || { cat "$work/best.log"; fail "best: kernel '$got', wanted $want"; }
echo "best over Prescott: $(grep '^blas:' "$work/best.log")"
OPENBLAS_CORETYPE=Prescott PHA_BLAS_CORETYPE=best mpirun -np 2 --oversubscribe --bind-to none \
  -x OPENBLAS_CORETYPE -x PHA_BLAS_CORETYPE "$pha" train "${common[@]}" --dp 2 \
  --run.dir="$work/best2" > "$work/best2.log" 2>&1 || { cat "$work/best2.log"; fail "best, 2 ranks"; }
got=$(kernel_of "$work/best2.log")
[ "$got" = "$want" ] || { cat "$work/best2.log"; fail "best, 2 ranks: kernel '$got', wanted $want"; }

# 2. auto and best with OPENBLAS_CORETYPE unset
for policy in auto best; do
  env -u OPENBLAS_CORETYPE PHA_BLAS_CORETYPE=$policy "$pha" train "${common[@]}" \
    --run.dir="$work/$policy-unset" > "$work/$policy-unset.log" 2>&1 ||
    { cat "$work/$policy-unset.log"; fail "$policy: pha failed"; }
  got=$(kernel_of "$work/$policy-unset.log")
  in_class "$got" || { cat "$work/$policy-unset.log"; fail "$policy: kernel '$got', wanted $class"; }
  echo "$policy, unset: $(grep '^blas:' "$work/$policy-unset.log")"
done

# 3. auto keeps the user's explicit kernel and names the faster one
OPENBLAS_CORETYPE=Prescott PHA_BLAS_CORETYPE=auto "$pha" train "${common[@]}" \
  --run.dir="$work/kept" > "$work/kept.log" 2>&1 || { cat "$work/kept.log"; fail "kept: pha failed"; }
got=$(kernel_of "$work/kept.log")
[ "$got" = Prescott ] || { cat "$work/kept.log"; fail "auto over Prescott: kernel '$got', wanted it kept"; }
if [ "$want" != Prescott ]; then
  grep -q "^blas: .*$want would be faster" "$work/kept.log" || { cat "$work/kept.log"; fail "no note naming $want"; }
fi

# 4. a wrong policy value
rc=0
PHA_BLAS_CORETYPE=Skylake "$pha" train "${common[@]}" --run.dir="$work/bad" > "$work/bad.log" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "PHA_BLAS_CORETYPE=Skylake is not a policy" "$work/bad.log" ||
  { cat "$work/bad.log"; fail "unknown policy: exit $rc"; }

# 5. both denominators in the step line, the metrics and the header
grep -qE '^step +1/1 .*GFLOP/s \([0-9.]+% of sgemm [0-9]+, [0-9.]+% of FMA peak [0-9]+\)' "$work/best.log" ||
  { cat "$work/best.log"; fail "step line without both denominators"; }
grep -qE '^cpu: .* GHz measured, [0-9]+ f32 FLOP/cycle/core' "$work/best.log" || fail "no cpu line"
/usr/bin/python3 - "$work/best/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
machine = [r for r in rows if r["kind"] == "machine"]
step = [r for r in rows if r["kind"] == "step"][0]
assert machine and machine[0]["fma_peak_flops_per_s"] >= machine[0]["matmul_peak_flops_per_s"] * 0.9, machine
assert 0 < step["mfu_fma_peak"] <= step["mfu"], step
print("metrics: mfu %.3f (of sgemm), mfu_fma_peak %.3f" % (step["mfu"], step["mfu_fma_peak"]))
PY
echo "PASS"
