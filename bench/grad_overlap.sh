#!/usr/bin/env bash
# How much of the data-parallel gradient average backward hides (launch/grad_buckets.*): dp 2,
# one rank in each of two network namespaces joined by a veth pair shaped to RATE (tc; netem's
# delay where the kernel has sch_netem), Open MPI over TCP between them (btl tcp,self; mpirun
# starts each host's orted in its namespace through a launcher agent, `ip netns exec`).
# Per binary, two runs: overlap off (every bucket after backward: all of the communication is
# exposed, its time is the total) and on (the default); the figure is
#   hidden fraction = 1 - exposed / total,
# exposed and total being the mean per step (steps 2..S) of the time in collectives (metrics.jsonl:
# comm_fraction x step time; the dp average dominates it). Needs root (ip netns); made names are
# prefixed pha_ck_ and removed on exit. Without namespaces it says so and runs on one host over
# the loopback (tcp,self), unshaped.
#   bash bench/grad_overlap.sh [PHA_BINARY...]     (default: build/launch/pha)
#   env: STEPS (6), PRESET (small), RATE (1gbit), DELAY (2ms, if netem exists)
set -euo pipefail
cd "$(dirname "$0")/.."
binaries=("$@")
[ ${#binaries[@]} -gt 0 ] || binaries=("${PHA_BUILD_DIR:-build}/launch/pha")
steps=${STEPS:-6}
preset=${PRESET:-small}
rate=${RATE:-1gbit}
delay=${DELAY:-2ms}
work=$(mktemp -d -p "${TMPDIR:-/tmp}")
cleanup() {
  ip netns del pha_ck_a 2> /dev/null || true
  ip netns del pha_ck_b 2> /dev/null || true
  ip link del pha_ck_a0 2> /dev/null || true
  ip link del pha_ck_b0 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

# Two hosts: pha_ck_a (10.77.1.2) and pha_ck_b (10.77.2.2), each with a link to the root namespace
# (mpirun <-> orted) and the shaped link between them (10.77.3.1 <-> 10.77.3.2, the MPI traffic).
make_hosts() {
  ip netns add pha_ck_a && ip netns add pha_ck_b || return 1
  ip link add pha_ck_a0 type veth peer name pha_ck_a1 && ip link set pha_ck_a1 netns pha_ck_a
  ip link add pha_ck_b0 type veth peer name pha_ck_b1 && ip link set pha_ck_b1 netns pha_ck_b
  ip link add pha_ck_ab type veth peer name pha_ck_ba
  ip link set pha_ck_ab netns pha_ck_a && ip link set pha_ck_ba netns pha_ck_b
  ip addr add 10.77.1.1/24 dev pha_ck_a0 && ip link set pha_ck_a0 up
  ip addr add 10.77.2.1/24 dev pha_ck_b0 && ip link set pha_ck_b0 up
  local ns dev
  for ns in a b; do
    ip -n pha_ck_$ns link set lo up
    ip -n pha_ck_$ns addr add 10.77.$([ $ns = a ] && echo 1 || echo 2).2/24 dev pha_ck_${ns}1
    ip -n pha_ck_$ns link set pha_ck_${ns}1 up
    dev=$([ $ns = a ] && echo pha_ck_ab || echo pha_ck_ba)
    ip -n pha_ck_$ns addr add 10.77.3.$([ $ns = a ] && echo 1 || echo 2)/24 dev $dev
    ip -n pha_ck_$ns link set $dev up
    if ip netns exec pha_ck_$ns tc qdisc add dev $dev root netem delay "$delay" rate "$rate" 2> /dev/null; then
      shaping="netem delay $delay rate $rate"
    else
      ip netns exec pha_ck_$ns tc qdisc add dev $dev root tbf rate "$rate" burst 32kbit latency 400ms
      shaping="tbf rate $rate (this kernel has no sch_netem: no added delay)"
    fi
  done
}
cat > "$work/agent.sh" << 'AGENT'
#!/bin/bash
# Open MPI's rsh agent: "agent [options] HOST COMMAND" runs COMMAND in HOST's namespace.
while [[ "$1" == -* ]]; do shift; done
host=$1
shift
case $host in 10.77.1.2) ns=pha_ck_a ;; 10.77.2.2) ns=pha_ck_b ;; *) exit 1 ;; esac
# Its own UTS namespace too, so that each host has its own name (pha maps ranks to hosts by it).
exec ip netns exec "$ns" unshare --uts /bin/sh -c "hostname ${ns//_/-}; $*"
AGENT
chmod +x "$work/agent.sh"
printf "10.77.1.2 slots=1\n10.77.2.2 slots=1\n" > "$work/hosts"
shaping=""
if [ "$(id -u)" = 0 ] && make_hosts 2> "$work/netns.err"; then
  where="two network namespaces, $shaping"
  launch=(mpirun --hostfile "$work/hosts" -np 2 --mca plm_rsh_agent "$work/agent.sh"
          --mca btl tcp,self --mca btl_tcp_if_include 10.77.3.0/24
          --mca oob_tcp_if_include 10.77.0.0/16 --mca routed direct -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS)
else
  where="one host, loopback TCP, unshaped (no network namespaces: $(head -1 "$work/netns.err"))"
  launch=(mpirun -np 2 --oversubscribe --bind-to none --mca btl tcp,self)
fi
echo "dp 2 over $where; preset $preset, $steps steps of 4 x 128 tokens per rank, 1 thread per rank"
common=(--model.preset="$preset" --train.seq_len=128 --train.batch_size=4 --train.steps="$steps"
        --train.warmup=1 --train.eval_every=0 --train.eval_batches=1 --train.threads=1
        --train.ckpt_every=0 --data.synthetic_tokens=100000 --dp 2)
for i in "${!binaries[@]}"; do
  pha=$(realpath "${binaries[$i]}")
  for overlap in false true; do
    run="$work/run_${i}_$overlap"
    "${launch[@]}" "$pha" train "${common[@]}" --parallel.overlap_grad_reduce=$overlap \
      --run.dir="$run" > "$run.log" 2>&1 || { head -30 "$run.log"; exit 1; }
  done
  /usr/bin/python3 - "$work" "$i" "${binaries[$i]}" <<'PY'
import json, sys
work, i, name = sys.argv[1], sys.argv[2], sys.argv[3]
def per_step(overlap):
    rows = [json.loads(l) for l in open(f"{work}/run_{i}_{overlap}/metrics.jsonl")]
    rows = [r for r in rows if r["kind"] == "step" and r["step"] >= 2]
    tokens = 2 * 4 * 128
    step = sum(tokens / r["tokens_per_s"] for r in rows) / len(rows)
    comm = sum(r["comm_fraction"] * tokens / r["tokens_per_s"] for r in rows) / len(rows)
    return step, comm
step_off, total = per_step("false")
step_on, exposed = per_step("true")
print(f"{name}: overlap off: step {step_off:.3f} s, comm {total:.3f} s | overlap on: step "
      f"{step_on:.3f} s, exposed comm {exposed:.3f} s | hidden fraction {1 - exposed / total:.2f}")
PY
done
