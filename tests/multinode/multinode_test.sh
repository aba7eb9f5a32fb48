#!/usr/bin/env bash
# pha on a two-node Slurm cluster (tests/multinode/cluster.sh: three hosts in network namespaces,
# Open MPI over TCP between them), tiny preset, dp 4 = 2 nodes x 2 tasks:
#   a. slurm/train.sbatch with srun --mpi=pmix: the rank-to-host table shows ranks 0,1 on
#      pha-mn-n1 and 2,3 on pha-mn-n2, local ranks 0/2 and 1/2 on each; final loss = the one-host
#      run's (4 ranks on one node, same MCA settings), bit for bit;
#   b. the same with mpirun and a hostfile (rsh-agent.sh enters the other host's namespaces);
#   c. the ranks of one node killed (SIGKILL) while a checkpoint is in flight: the job ends FAILED
#      within 60 s, srun names the host and tasks, `latest` still names the last committed
#      checkpoint, which verifies; `scontrol requeue` resumes from it to the same final loss;
#   d. a network partition (n2's cable pulled) during training: the collective timeout ends the
#      ranks on n1, naming the operation, the group, the rank and the host;
#   e. a node crash mid-step (all its processes, slurmd included, SIGKILLed): Slurm marks the node
#      down, the job ends NODE_FAIL and is requeued; once the node is booted again the job resumes
#      from its last committed checkpoint to the same final loss.
# Prints the detection time of every fault. Every namespace, link and daemon is removed on exit.
#   multinode_test.sh PHA SOURCE_DIR     (root; iproute2, util-linux, munge, slurm-wlm, Open MPI)
# Exits 77 (ctest: skipped) with the reason when it cannot run here.
set -euo pipefail
[ -n "${PHA_MN_TEST_DEADLINE:-}" ] || PHA_MN_TEST_DEADLINE=1 exec timeout "${PHA_MN_TEST_LIMIT:-300}" bash "$0" "$@"
pha=$(realpath "$1")
src=$(realpath "$2")
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (network namespaces, munged, slurmd)"; exit 77; }
for b in ip unshare nsenter munged slurmctld slurmd sbatch mpirun; do
  command -v "$b" >/dev/null || { echo "SKIP: $b missing (bash tools/install-deps.sh; iproute2, util-linux)"; exit 77; }
done
dir=$(mktemp -d /tmp/pha_mn_test.XXXXXX)
export PHA_MN_DIR=$dir
cluster() { "$src/tests/multinode/cluster.sh" "$1" "$dir" "${@:2}"; }
ok=0
cleanup() {
  trap - EXIT TERM INT
  cluster down || true
  if [ "$ok" = 1 ]; then rm -rf "$dir"; else echo "kept $dir (job logs in shared/, daemon logs in hosts/*/)"; fi
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted or over the time budget"; exit 1' TERM INT
fail() {
  echo "FAIL: $*"
  for f in "$dir"/shared/*.out; do [ -f "$f" ] && { echo "== $f"; grep -v '^step' "$f" | tail -25; }; done
  exit 1
}
t_all=$SECONDS
set +e
cluster up >/dev/null
rc=$?
set -e
[ "$rc" = 77 ] && exit 77
[ "$rc" = 0 ] || fail "the cluster did not come up"
shared=$dir/shared
echo "cluster up: pha-mn-ctl (slurmctld), pha-mn-n1, pha-mn-n2 (slurmd) on 10.77.0.0/24 ($((SECONDS - t_all)) s)"

# Open MPI over TCP between the hosts: pml ob1 with the tcp and self BTLs (no shared memory, so
# ranks on one node talk TCP too), bound to the cluster's subnet; the runtime's own traffic too.
mca_env=(OMPI_MCA_pml=ob1 "OMPI_MCA_btl=tcp,self" OMPI_MCA_btl_tcp_if_include=10.77.0.0/24
  OMPI_MCA_oob_tcp_if_include=10.77.0.0/24 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1)
on_ctl() { cluster on ctl env SLURM_CONF="$dir/slurm.conf" "${mca_env[@]}" "$@"; }
config=$src/launch/configs/main-job.ini
args=(--model.preset=tiny --model.max_seq_len=32 --train.seq_len=32 --train.batch_size=1
  --train.grad_accum=1 --dp 4 --pp 1 --train.steps=8 --train.warmup=1 --train.eval_every=0
  --train.ckpt_every=0 --train.log_every=1 --data.synthetic_tokens=20000)

submit() { # submit NAME [extra pha args]: a 2 nodes x 2 tasks train.sbatch job; prints its id
  local name=$1
  shift
  on_ctl PHA="${PHA_OF_JOB:-$pha}" PHA_SRUN_WAIT="${PHA_SRUN_WAIT:-30}" sbatch --parsable -N 2 --ntasks-per-node=2 -J "$name" -D "$shared" \
    -o "$shared/$name.out" -t 10 "$src/slurm/train.sbatch" "$config" "${args[@]}" \
    --run.dir="$shared/$name" "$@"
}
field() { on_ctl scontrol -o show job "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
final_state() { # final_state JOB SECONDS: waits until the job ended; prints its state
  local s
  for _ in $(seq $(($2 * 4))); do
    s=$(field "$1" JobState)
    case "$s" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) echo "$s"; return 0 ;; esac
    sleep 0.25
  done
  echo "TIMEDOUT($s)"
}
steps() {
  [ -f "$1/metrics.jsonl" ] || { echo 0; return; }
  grep -c '"kind":"step"' "$1/metrics.jsonl" || true
}
wait_for() { # wait_for SECONDS CMD...: until CMD succeeds
  local n=$(($1 * 4))
  shift
  for _ in $(seq "$n"); do "$@" && return 0; sleep 0.25; done
  return 1
}
has_steps() { [ "$(steps "$1")" -ge "$2" ]; }
in_log() { grep -Eq "$2" "$shared/$1.out" 2>/dev/null; }
last_loss() { # "STEP LOSS" of the last step record of run RUN
  /usr/bin/python3 -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
r = [x for x in r if x["kind"] == "step"][-1]
print(r["step"], repr(r["loss"]))' "$1"
}
now() { date +%s.%N; }
since() { /usr/bin/python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }
# check_table LOG SOURCE: pha's rank-to-host table: ranks 0,1 on n1 and 2,3 on n2, local 0/2, 1/2.
check_table() {
  grep -q "rank-to-host table (4 ranks, from $2)" "$1" || fail "no rank-to-host table from $2 in $1"
  local r want
  for r in 0 1 2 3; do
    want="^ +$r +pha-mn-n$((r / 2 + 1)) +$((r % 2))/2 "
    grep -Eq "$want" "$1" || fail "rank $r is not on pha-mn-n$((r / 2 + 1)) with local rank $((r % 2))/2 in $1"
  done
}
mpirun_on_n1() { # mpirun_on_n1 HOSTFILE LOG RUN_DIR: the 4 ranks from n1 through the hostfile
  cluster on n1 env "${mca_env[@]}" timeout 120 mpirun --hostfile "$1" -np 4 --bind-to none \
    --mca plm_rsh_agent "$src/tests/multinode/rsh-agent.sh" -x PHA_MN_DIR \
    "$pha" train --config "$config" "${args[@]}" --run.dir="$3" >"$2" 2>&1
}

# Reference: the 4 ranks on one host (n1), same MCA settings.
t0=$SECONDS
echo "pha-mn-n1 slots=4" >"$shared/hosts-one"
printf 'pha-mn-n1 slots=2\npha-mn-n2 slots=2\n' >"$shared/hosts-two"
mpirun_on_n1 "$shared/hosts-one" "$shared/ref.out" "$shared/ref" || fail "one-host reference run"
ref=$(last_loss "$shared/ref")
[ "${ref%% *}" = 8 ] || fail "reference ended at step/loss $ref, not step 8"
echo "one-host reference (4 ranks on pha-mn-n1): step/loss $ref ($((SECONDS - t0)) s)"

# a (srun job) and b (mpirun with a hostfile) side by side.
t0=$SECONDS
ja=$(submit a)
mpirun_on_n1 "$shared/hosts-two" "$shared/b.out" "$shared/b" || fail "(b) mpirun over the hostfile failed"
st=$(final_state "$ja" 90)
[ "$st" = COMPLETED ] || fail "(a) job $ja ended $st"
check_table "$shared/a.out" slurm
in_log a "srun --mpi=pmix --ntasks=4" || fail "(a) not launched with srun --mpi=pmix"
got=$(last_loss "$shared/a")
[ "$got" = "$ref" ] || fail "(a) 2x2 srun final step/loss $got, one host $ref"
echo "PASS (a): srun --mpi=pmix job $ja on pha-mn-n[1-2], 2 tasks per node, local ranks right, step/loss $got == one host"
check_table "$shared/b.out" open-mpi
got=$(last_loss "$shared/b")
[ "$got" = "$ref" ] || fail "(b) 2x2 mpirun final step/loss $got, one host $ref"
echo "PASS (b): mpirun --hostfile (rsh agent into the namespaces), local ranks right, step/loss $got == one host ($((SECONDS - t0)) s)"

# c. One node's ranks killed while the checkpoint of step 4 is in flight (the writer on rank 0,
# on n1, pauses in it by a test hook, only while the file hook-on exists: not after the requeue).
t0=$SECONDS
touch "$shared/hook-on"
cat >"$shared/pha-hook.sh" <<EOF
#!/bin/bash
[ -f "$shared/hook-on" ] && export PHA_CKPT_WRITER_DELAY_S=60 PHA_CKPT_WRITER_DELAY_STEP=4
exec "$pha" "\$@"
EOF
chmod +x "$shared/pha-hook.sh"
# srun ends the surviving ranks PHA_SRUN_WAIT s after the first ended (slurm/lib.sh; 30 by default).
jc=$(PHA_OF_JOB=$shared/pha-hook.sh PHA_SRUN_WAIT=15 submit c --train.ckpt_every=2)
wait_for 120 in_log c "checkpoint writer pausing .* in step_00000004" || fail "(c) the checkpoint of step 4 did not start"
kill_pha_on() { # the pha processes of a host: the ranks of this job there
  local p killed=0
  for p in $(cluster pids "$1"); do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = pha ] && kill -KILL "$p" && killed=$((killed + 1))
  done
  echo "$killed"
}
tk=$(now)
n=$(kill_pha_on n2)
[ "$n" = 2 ] || fail "(c) found $n pha ranks on pha-mn-n2, wanted 2"
st=$(final_state "$jc" 60)
dc=$(since "$tk")
[ "$st" = FAILED ] || fail "(c) job $jc ended $st after the ranks of pha-mn-n2 were killed"
in_log c "pha-mn-n2: tasks? 2-3: Killed" || fail "(c) srun did not name the host and tasks that died"
latest=$(cat "$shared/c/checkpoints/latest")
[ "$latest" = step_00000002 ] || fail "(c) latest names $latest, wanted step_00000002"
"$pha" ckpt verify "$shared/c/checkpoints/$latest" >/dev/null || fail "(c) $latest does not verify"
[ ! -e "$shared/c/checkpoints/step_00000004/COMMITTED" ] || fail "(c) step 4 was committed"
echo "PASS (c): ranks of pha-mn-n2 killed during checkpoint step 4: job $jc FAILED in $dc s ($(grep -Eom1 'pha-mn-n2: tasks? 2-3: Killed' "$shared/c.out")); latest = $latest, verified"
rm "$shared/hook-on"
on_ctl scontrol requeue "$jc"
not_failed() { [ "$(field "$jc" JobState)" != FAILED ]; }
wait_for 10 not_failed || fail "(c) job $jc still FAILED after scontrol requeue"
st=$(final_state "$jc" 120)
[ "$st" = COMPLETED ] || fail "(c) requeued job $jc ended $st"
in_log c "resumed from .*step_00000002 " || fail "(c) the requeued run did not resume from step 2"
got=$(last_loss "$shared/c")
[ "$got" = "$ref" ] || fail "(c) final step/loss after requeue $got, uninterrupted $ref"
echo "PASS (c): requeued, resumed from step 2 to step/loss $got == uninterrupted ($((SECONDS - t0)) s)"

# d. Network partition: n2's cable pulled at the switch during training.
t0=$SECONDS
jd=$(submit d --train.steps=400 --parallel.timeout=5)
wait_for 90 has_steps "$shared/d" 3 || fail "(d) job $jd made no 3 steps"
tp=$(now)
cluster link n2 down
# Whichever collective is in flight when the cable goes (the gradient all-reduce, the step
# metrics' all-gather, ...) must be the one named.
timeout_line="rank [01]: [a-z_]+ on the [a-z_]+ group did not complete within 5 s \(host pha-mn-n1\)"
wait_for 60 in_log d "$timeout_line" || fail "(d) no collective timeout on pha-mn-n1 within 60 s of the partition"
dd=$(since "$tp")
cluster link n2 up
echo "PASS (d): partition of pha-mn-n2: '$(grep -Eom1 "$timeout_line" "$shared/d.out")' after $dd s (timeout 5 s)"
on_ctl scancel "$jd" || true
st=$(final_state "$jd" 60)
case "$st" in FAILED | CANCELLED | NODE_FAIL) ;; *) fail "(d) job $jd did not end after the partition: $st" ;; esac
nodes_idle() { [ "$(on_ctl sinfo -h -N -o %t | sort -u | xargs)" = idle ]; }
wait_for 60 nodes_idle || fail "(d) the nodes are not idle again after the partition: $(on_ctl sinfo -h -N -o '%N %t')"
echo "     job $jd ended $st; both nodes idle again ($((SECONDS - t0)) s)"

# e. n2 crashes mid-step (every process on it SIGKILLed: slurmd, slurmstepd, munged, the ranks):
# Slurm marks the node down, the job ends NODE_FAIL and is requeued; once n2 is booted again the
# job resumes. The ranks' collective timeout (60 s) is longer than Slurm's detection, so the job
# fails as a node failure (requeued), not as pha's abort (exit 3, not requeued).
t0=$SECONDS
je=$(submit e --train.ckpt_every=2 --parallel.timeout=60)
wait_for 90 test -f "$shared/e/checkpoints/latest" || fail "(e) no committed checkpoint"
wait_for 30 has_steps "$shared/e" 3 || fail "(e) job $je made no 3 steps"
ts=$(now)
cluster crash n2
requeued() { [ "$(field "$je" Restarts)" -ge 1 ]; }
wait_for 60 requeued || fail "(e) job $je was not requeued within 60 s of pha-mn-n2 crashing ($(field "$je" JobState))"
de=$(since "$ts")
grep -q "requeue job JobId=$je due to failure of node pha-mn-n2" "$dir/hosts/ctl/slurmctld.log" ||
  fail "(e) slurmctld did not name the failed node"
wait_for 10 in_log e "srun: error: Node failure on pha-mn-n2" || fail "(e) the job log does not name the failed node"
echo "PASS (e): pha-mn-n2 crashed: node down, job $je requeued after $de s (slurmctld: 'requeue job JobId=$je due to failure of node pha-mn-n2'; job log: 'srun: error: Node failure on pha-mn-n2')"
cluster boot n2
st=$(final_state "$je" 150)
[ "$st" = COMPLETED ] || fail "(e) requeued job $je ended $st"
from=$(grep -o 'resumed from [^ ]*step_[0-9]*' "$shared/e.out" | tail -1)
[ -n "$from" ] || fail "(e) the requeued run did not resume from a checkpoint"
got=$(last_loss "$shared/e")
[ "$got" = "$ref" ] || fail "(e) final step/loss after the node failure $got, uninterrupted $ref"
echo "PASS (e): pha-mn-n2 booted, job $je ${from##*/}: resumed to step/loss $got == uninterrupted ($((SECONDS - t0)) s)"

# f. Under mpirun (hostfile): both ranks of n2 killed mid-step; mpirun ends the job itself.
args+=(--train.steps=100)
mpirun_on_n1 "$shared/hosts-two" "$shared/f.out" "$shared/f" &
mpirun_pid=$!
wait_for 90 has_steps "$shared/f" 3 || fail "(f) mpirun run made no 3 steps"
tk=$(now)
n=$(kill_pha_on n2)
[ "$n" = 2 ] || fail "(f) found $n pha ranks on pha-mn-n2, wanted 2"
set +e
wait "$mpirun_pid"
rc=$?
set -e
df=$(since "$tk")
if [ "$rc" = 0 ] || [ "$rc" = 124 ]; then fail "(f) mpirun exited $rc after ranks of pha-mn-n2 were killed"; fi
noticed="mpirun noticed that process rank [23] with PID [0-9]+ on node pha-mn-n2 exited on signal 9"
grep -Eq "$noticed" "$shared/f.out" || fail "(f) mpirun did not name the rank and node that died"
echo "PASS (f): mpirun ended $df s after the ranks of pha-mn-n2 were killed (status $rc): '$(grep -Eom1 "$noticed" "$shared/f.out")'"

echo "detection times: ranks killed -> job ended ${dc} s (srun --wait=15); partition -> collective timeout ${dd} s (--parallel.timeout=5); node crash -> node failure and requeue ${de} s (SlurmdTimeout=10); ranks killed under mpirun -> job ended ${df} s"
ok=1
echo "multinode tests passed in $((SECONDS - t_all)) s"
