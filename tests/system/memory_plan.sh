#!/usr/bin/env bash
# The planner against the arenas (docs/cli.md, "pha plan"):
#   1. for several layouts and recompute modes, every rank's planned arena bytes (pha plan:
#      parameters, gradients, compute copies, optimizer, activations with the recompute buffer,
#      scratch, communication buffers; not comm_in_flight, MPI's temporaries, which
#      bench/plan_vs_rss.sh checks) equal what pha train's arenas allocate, rank by rank, the
#      trainer prints pha plan's lines at start, and the
#      activations shrink with train.recompute (full < selective < none);
#   2. ZeRO shards the optimizer: per-rank optimizer bytes at dp 2 and 4 with ZeRO-1/2 are 1/dp of
#      one rank's (within 0.5%: alignment padding), and equal one rank's without ZeRO; ZeRO-2
#      shards the gradients the same way (the step-long gradient bytes 1/dp, the reusable window
#      reported apart, smaller than one rank's gradients), ZeRO-0/1 keep them whole;
#      with compute copies (--precision fp32-copies) under ZeRO the compute arena is the
#      chunk-padded parameter arena in the compute type (GradientSync::step gathers it) and the
#      masters are sharded: each rank's parameter bytes are 1/dp of one rank's (its chunk) plus
#      the parameters without copies whole (within 0.5%), at dp 2, dp 4 and dp2 x cp2;
#   3. --memory-per-rank suggests a layout that fits, and refuses a budget nothing fits.
#   memory_plan.sh PHA
set -euo pipefail
pha=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
common=(--model.preset=tiny --model.max_seq_len=64 --train.seq_len=32 --train.batch_size=1
        --train.steps=1 --train.warmup=0 --train.eval_every=0 --train.eval_batches=1
        --data.synthetic_tokens=20000 --parallel.timeout=120)
check() {  # check DP TP PP ZERO(none|zero1|zero2) [RECOMPUTE(none|selective|full)] [CP] [PRECISION]
  local dp=$1 tp=$2 pp=$3 zero=$4 recompute=${5:-none} cp=${6:-1} precision=${7:-fp32}
  local name="dp$1_tp$2_pp$3_$4" flags=(--dp "$dp" --tp "$tp" --pp "$pp" --cp "$cp" --train.grad_accum=$((4 / dp)))
  [ "$recompute" != none ] && name+="_$recompute" && flags+=(--recompute "$recompute")
  [ "$cp" -gt 1 ] && name+="_cp$cp"
  [ "$precision" != fp32 ] && name+="_$precision" && flags+=(--precision "$precision")
  [ "$zero" != none ] && flags+=("--$zero")
  "$pha" plan "${common[@]}" "${flags[@]}" > "$work/$name.plan"
  mpirun -np $((dp * tp * pp * cp)) --oversubscribe --bind-to none "$pha" train "${common[@]}" \
    "${flags[@]}" --run.dir="$work/$name" > "$work/$name.log" 2>&1 || { cat "$work/$name.log"; exit 1; }
  # "plan rank R (...): ARENA_FIELDS comm_in_flight F comm M total T (X MiB)" against "allocated
  # rank R (...): ARENA_FIELDS arenas A": the arenas alone (comm_in_flight is MPI's temporaries,
  # modelled, not allocated by pha)
  diff <(sed -n 's/^plan rank \([0-9]*\) ([^)]*): \(.*\) comm_in_flight [0-9]* comm [0-9]* total [0-9]* ([0-9.]* MiB)$/\1 \2/p' "$work/$name.plan") \
       <(sed -n 's/^allocated rank \([0-9]*\) ([^)]*): \(.*\) arenas [0-9]*$/\1 \2/p' "$work/$name.log") \
    || { echo "$name: the plan differs from the allocation"; exit 1; }
  # The trainer prints the same plan at start.
  diff <(grep '^plan rank' "$work/$name.plan") <(grep '^plan rank' "$work/$name.log") \
    || { echo "$name: the trainer's plan differs from pha plan's"; exit 1; }
  local n
  n=$(grep -c '^allocated rank .* arenas [0-9]*$' "$work/$name.log")
  [ "$n" -eq $((dp * tp * pp * cp)) ] || { echo "$name: $n allocated lines"; exit 1; }
  n=$(grep -c '^plan rank .* comm_in_flight [0-9]* comm [0-9]* total [0-9]* (' "$work/$name.plan")
  [ "$n" -eq $((dp * tp * pp * cp)) ] || { echo "$name: $n plan lines"; exit 1; }
  echo "$name: plan equals the allocated arenas on all $n ranks"
}
for layout in "1 1 1 none" "2 1 1 none" "4 1 1 none" "2 1 1 zero1" "4 1 1 zero1" "2 1 1 zero2" \
              "4 1 1 zero2" "2 2 1 zero1" "2 2 1 zero2" "2 1 2 zero2" "1 2 2 none" \
              "1 1 1 none selective" "1 1 1 none full" "1 2 2 none selective" "1 2 2 none full" \
              "2 1 2 zero2 selective" "1 1 1 none none 2" "1 2 1 zero1 none 2" \
              "2 1 1 zero2 none 2" "1 1 1 none none 1 fp32-copies" "2 1 1 zero1 none 1 fp32-copies" \
              "2 2 1 zero2 none 1 fp32-copies" "2 1 1 zero1 none 2 fp32-copies" \
              "4 1 1 zero2 none 1 fp32-copies"; do
  check $layout
done
activations() {  # activations NAME RANK: the allocated activation bytes
  sed -n "s/^allocated rank $2 (.*): .* activations \([0-9]*\) .*/\1/p" "$work/$1.log"
}
for run_ranks in "dp1_tp1_pp1_none 1" "dp1_tp2_pp2_none 4"; do
  read -r run ranks <<< "$run_ranks"
  for rank in $(seq 0 $((ranks - 1))); do
    none=$(activations "$run" "$rank") sel=$(activations "${run}_selective" "$rank")
    full=$(activations "${run}_full" "$rank")
    [ "$full" -lt "$sel" ] && [ "$sel" -lt "$none" ] \
      || { echo "$run rank $rank: activations none $none selective $sel full $full do not shrink"; exit 1; }
    echo "$run rank $rank: activations none $none, selective $sel, full $full bytes"
  done
done
/usr/bin/python3 - "$work" <<'PY'
import re, sys
w = sys.argv[1]
def field(name, key, rank=0):
    for line in open(f"{w}/{name}.log"):
        m = re.match(rf"allocated rank {rank} \([^)]*\):.* {key} (\d+) ", line)
        if m:
            return int(m.group(1))
    raise SystemExit(f"{name}: no allocated line for rank {rank}")
failed = False
def expect(name, key, rank, want_dp):
    global failed
    ratio = field(name, key, rank) / field("dp1_tp1_pp1_none", key)
    ok = abs(ratio * want_dp - 1) <= 0.005
    failed |= not ok
    if rank == 0 or not ok:
        print(f"{name} rank {rank}: {key} {ratio:.4f} of one rank's (want 1/{want_dp})"
              f"{'' if ok else '  FAILED'}")
# (layout, optimizer sharded over, gradients sharded over)
for name, opt_dp, grad_dp in [("dp2_tp1_pp1_none", 1, 1), ("dp4_tp1_pp1_none", 1, 1),
                              ("dp2_tp1_pp1_zero1", 2, 1), ("dp4_tp1_pp1_zero1", 4, 1),
                              ("dp2_tp1_pp1_zero2", 2, 2), ("dp4_tp1_pp1_zero2", 4, 4)]:
    for rank in range(int(name[2])):
        expect(name, "optimizer", rank, opt_dp)
        expect(name, "gradients", rank, grad_dp)
        window = field(name, "grad_window", rank)
        whole = field("dp1_tp1_pp1_none", "gradients")
        ok = (window == 0) if grad_dp == 1 else (0 < window < whole)
        failed |= not ok
        if rank == 0 or not ok:
            print(f"{name} rank {rank}: gradient window {window / whole:.4f} of one rank's "
                  f"gradients{'' if ok else '  FAILED'}")
# Sharded masters: one rank's parameter arena P holds the matmul weights (what its compute arena
# C copies) and the small parameters P - C; a ZeRO rank with copies holds P / dp + (P - C).
one = "dp1_tp1_pp1_none_fp32-copies"
P, C = field(one, "parameters"), field(one, "compute")
for name, ranks in [("dp2_tp1_pp1_zero1_fp32-copies", 2), ("dp4_tp1_pp1_zero2_fp32-copies", 4),
                    ("dp2_tp1_pp1_zero1_cp2_fp32-copies", 4)]:
    for rank in range(ranks):
        held, want = field(name, "parameters", rank), P / ranks + (P - C)
        ok = abs(held / want - 1) <= 0.005
        failed |= not ok
        if rank == 0 or not ok:
            print(f"{name} rank {rank}: parameters {held / P:.4f} of one rank's (want 1/{ranks} "
                  f"+ small parameters {(P - C) / P:.4f} = {want / P:.4f}){'' if ok else '  FAILED'}")
sys.exit(1 if failed else 0)
PY
# 3. Suggestions.
"$pha" plan "${common[@]}" --train.grad_accum=4 --memory-per-rank 40MiB --ranks 4 > "$work/suggest.txt"
grep -q '^suggested: --dp ' "$work/suggest.txt" || { cat "$work/suggest.txt"; exit 1; }
most=$(sed -n 's/^  most per rank: \([0-9.]*\) MiB.*/\1/p' "$work/suggest.txt")
/usr/bin/python3 -c "import sys; sys.exit(0 if float('$most') <= 40 else 1)" \
  || { echo "suggested layout needs $most MiB > 40 MiB"; exit 1; }
echo "suggestion for 4 ranks in 40 MiB: $(grep '^suggested' "$work/suggest.txt") ($most MiB)"
rc=0
"$pha" plan "${common[@]}" --memory-per-rank 1MiB --ranks 2 > "$work/none.txt" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && grep -q "no layout of 2 ranks fits 1MiB per rank" "$work/none.txt" \
  || { echo "a budget nothing fits was not refused (status $rc)"; cat "$work/none.txt"; exit 1; }
echo "a 1 MiB budget is refused: $(grep -o 'no layout.*' "$work/none.txt")"
