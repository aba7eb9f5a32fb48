#!/usr/bin/env bash
# Checkpoint faults leave the previous checkpoint usable, with a clear message, and nothing hangs:
#   - a writer killed in the middle of a checkpoint (test hook PHA_CKPT_CRASH_AT) at each stage;
#   - a block written wrong (test hook PHA_CKPT_CORRUPT_BLOCK: changed after its checksum was
#     taken, before the write): the writer's read-back refuses the checkpoint;
#   - a flipped value in a dataset (checksum mismatch);
#   - a truncated state.h5;
#   - a checkpoint of another model shape.
#   checkpoint_faults.sh PHA
set -euo pipefail
pha=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
run=$work/run
common=(--model.preset=tiny --model.max_seq_len=64 --train.seq_len=32 --train.batch_size=2
        --train.warmup=1 --train.eval_every=0 --train.eval_batches=1 --train.seed=3
        --data.synthetic_tokens=20000 --train.ckpt_every=2 --train.keep_last=5
        --parallel.timeout=60 --run.dir=$run)
train() { timeout 300 mpirun -np 2 --oversubscribe --bind-to none "$pha" train "${common[@]}" --tp 2 "$@"; }
status_of() { local rc=0; "$@" > "$work/out.log" 2>&1 || rc=$?; echo $rc; }
fail() { echo "FAILED: $*"; cat "$work/out.log" | tail -20; exit 1; }

train --train.steps=4 > /dev/null
[ "$(cat $run/checkpoints/latest)" = step_00000004 ] || fail "latest is not step 4"

# 1. Killed while writing step 6, at every stage: step 4 stays the newest committed checkpoint.
for point in after_datasets before_rename before_committed; do
  rc=$(status_of env PHA_CKPT_CRASH_AT=$point mpirun -x PHA_CKPT_CRASH_AT -np 2 --oversubscribe \
       --bind-to none "$pha" train "${common[@]}" --tp 2 --train.steps=6 --train.resume=auto)
  [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "crash at $point: exit status $rc"
  [ "$(cat $run/checkpoints/latest)" = step_00000004 ] || fail "crash at $point moved latest"
  "$pha" ckpt verify "$run/checkpoints/step_00000004" > /dev/null || fail "step 4 damaged after $point"
  echo "ok   killed at $point: exit $rc, latest still step_00000004 and intact"
done

# 1b. A block written wrong in step 6's checkpoint: refused, not committed, latest unchanged.
rc=$(status_of env PHA_CKPT_CORRUPT_BLOCK=model/layers.1.ffn.w1 mpirun -x PHA_CKPT_CORRUPT_BLOCK \
     -np 2 --oversubscribe --bind-to none "$pha" train "${common[@]}" --tp 2 --train.steps=6 \
     --train.resume=auto)
[ "$rc" -eq 1 ] || fail "corrupted block: exit status $rc"
grep -q "block of dataset 'model/layers.1.ffn.w1' reads back differently" "$work/out.log" \
  || fail "corrupted block: no message naming the dataset"
[ "$(grep -c "reads back differently" "$work/out.log")" -eq 1 ] || fail "message not printed once"
[ "$(cat $run/checkpoints/latest)" = step_00000004 ] || fail "corrupted block moved latest"
[ ! -e "$run/checkpoints/step_00000006/COMMITTED" ] || fail "corrupted block: step 6 committed"
echo "ok   corrupted block refused: $(grep -o "checkpoint step 6: rank.*" "$work/out.log" | head -1)"

# 2. A flipped value in the newest checkpoint: verify names the dataset; auto falls back.
train --train.steps=6 --train.resume=auto > /dev/null
/usr/bin/python3 - "$run/checkpoints/step_00000006/state.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    d = f["model/layers.1.ffn.w1"]
    d[3, 5] = d[3, 5] + 1.0
PY
rc=$(status_of "$pha" ckpt verify "$run/checkpoints/step_00000006")
[ "$rc" -eq 1 ] && grep -q "model/layers.1.ffn.w1.*checksum mismatch" "$work/out.log" || fail "verify missed the flip"
echo "ok   flipped value: $(cat "$work/out.log")"
rc=$(status_of train --train.steps=7 --train.resume=auto)
[ "$rc" -eq 0 ] || fail "resume after a flip: exit $rc"
grep -q "step_00000006 is damaged.*falling back" "$work/out.log" || fail "no fallback message"
grep -q "resumed from .*step_00000004" "$work/out.log" || fail "did not resume from step 4"
[ "$(grep -c "is damaged" "$work/out.log")" -eq 1 ] || fail "the message was not printed once"
echo "ok   auto fell back: $(grep "is damaged" "$work/out.log")"

# 3. A truncated file.
truncate -s 20000 "$run/checkpoints/step_00000004/state.h5"
rc=$(status_of "$pha" ckpt verify "$run/checkpoints/step_00000004")
[ "$rc" -ne 0 ] || fail "verify accepted a truncated file"
echo "ok   truncated file: $(head -c 300 "$work/out.log" | tr '\n' ' ')"
rc=$(status_of train --train.steps=8 --train.resume="$run/checkpoints/step_00000004")
[ "$rc" -eq 1 ] && [ "$(grep -c "cannot be resumed" "$work/out.log")" -eq 1 ] || fail "resume from a truncated file: exit $rc"
echo "ok   resume PATH of a truncated file refused once"

# 4. Another model shape.
rc=$(status_of train --train.steps=8 --model.d_ff=512 --train.resume="$run/checkpoints/step_00000002")
[ "$rc" -eq 1 ] && grep -q "dataset 'model/layers.0.ffn.w1' has shape \[768, 256\] but this model's is \[512, 256\]" "$work/out.log" || fail "another shape: exit $rc"
echo "ok   another model shape refused: $(grep -o "dataset 'model/layers.0.ffn.w1'.*" "$work/out.log" | head -1)"
echo "checkpoint fault tests passed"
