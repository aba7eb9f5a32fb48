#!/usr/bin/env bash
# A three-host Slurm cluster on one machine, one network namespace per host:
#   ctl  (pha-mn-ctl, 10.77.0.1): munged, slurmctld
#   n1   (pha-mn-n1,  10.77.0.2): munged, slurmd     \ compute nodes, CPUs=4 each
#   n2   (pha-mn-n2,  10.77.0.3): munged, slurmd     /
# joined by veth pairs to a bridge in a fourth namespace (the switch). Addresses are private to the
# namespaces (no default route: nothing leaves them). Every host is a holder process in its own
# network, UTS (hostname) and mount namespace; in its mount namespace DIR/hosts/HOST is mounted on
# DIR/local (node-local disk: munge socket, slurmd spool, pid files, logs) and DIR/etc-hosts on
# /etc/hosts. Everything else, DIR/shared in particular, is the same file system on every host, as a
# cluster file system would be.
#
#   cluster.sh up DIR              create the hosts, start the daemons, wait for both nodes idle;
#                                  prints `export SLURM_CONF=DIR/slurm.conf`
#   cluster.sh down DIR            stop every process on the hosts, delete namespaces and links
#   cluster.sh on DIR HOST CMD...  run CMD on HOST (its network, hostname and mounts)
#   cluster.sh link DIR HOST up|down   plug / pull HOST's cable at the switch
#   cluster.sh crash DIR HOST      SIGKILL every process on HOST (daemons, job steps, ranks); clear
#                                  its tmp and sockets (what a reboot clears)
#   cluster.sh boot DIR HOST       start those of HOST's daemons that are not running
#   cluster.sh pids DIR HOST       the processes running on HOST (not its holder)
# Names are prefixed pha_mn_<id> (namespaces) and pmn<id> (links), id from DIR, so several
# clusters can exist side by side. Needs root, iproute2, util-linux (unshare, nsenter), munge and
# slurm-wlm. Exit status 77 from `up`: namespaces cannot be made here.
set -euo pipefail
cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then echo "usage: $0 up|down|on|link|crash|boot|pids DIR ..." >&2; exit 2; fi
shift 2
hosts=(ctl n1 n2)
subnet=10.77.0
die() { echo "cluster: $*" >&2; exit 1; }
addr_of() { case "$1" in ctl) echo "$subnet.1" ;; n1) echo "$subnet.2" ;; n2) echo "$subnet.3" ;; *) die "no host '$1'" ;; esac; }
id() { cat "$dir/id"; }
ns() { echo "pha_mn_$(id)_$1"; }
holder() { cat "$dir/hosts/$1/holder.pid"; }
on() {
  local h=$1
  shift
  nsenter -t "$(holder "$h")" -n -m -u -- "$@"
}

write_conf() {
  local c=$dir/slurm.conf
  cat >"$c" <<CONF
ClusterName=pha-mn
SlurmctldHost=pha-mn-ctl($(addr_of ctl))
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/local/munge.sock,cred_expire=10
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
StateSaveLocation=$dir/local/state
SlurmdSpoolDir=$dir/local/spool
# Node-local /tmp: the PMIx plugin makes /TmpFS/spmix_appdir_<uid>_<job>.<step> on every node.
TmpFS=$dir/local/tmp
SlurmctldPidFile=$dir/local/slurmctld.pid
SlurmdPidFile=$dir/local/slurmd.pid
SlurmctldLogFile=$dir/local/slurmctld.log
SlurmdLogFile=$dir/local/slurmd.log
ReturnToService=2
MpiDefault=none
KillWait=5
MinJobAge=3600
# A node whose slurmd is silent for 10 s is DOWN (its jobs end NODE_FAIL and requeue); Slurm's
# default is 300 s. Pings go every SlurmdTimeout/3.
SlurmdTimeout=10
MessageTimeout=5
SchedulerParameters=sched_interval=2
NodeName=pha-mn-n1 NodeHostname=pha-mn-n1 NodeAddr=$(addr_of n1) CPUs=4 State=UNKNOWN
NodeName=pha-mn-n2 NodeHostname=pha-mn-n2 NodeAddr=$(addr_of n2) CPUs=4 State=UNKNOWN
PartitionName=mn Nodes=pha-mn-n[1-2] Default=YES MaxTime=INFINITE State=UP
CONF
}

# The daemons of a host that are not running, each with its node-local socket, pid file, state and
# log (after `crash`: all of them; after a killed slurmd: that one).
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
boot() {
  local h=$1 l=$dir/hosts/$1
  if ! alive "$l/munged.pid"; then
    rm -f "$l/munged.pid" "$l/munge.sock"*
    on "$h" munged --force --socket="$dir/local/munge.sock" --key-file="$dir/munge.key" \
      --pid-file="$dir/local/munged.pid" --log-file="$dir/local/munged.log" \
      --seed-file="$dir/local/munged.seed" || die "munged on $h did not start ($l/munged.log)"
  fi
  if [ "$h" = ctl ]; then
    alive "$l/slurmctld.pid" || on ctl slurmctld -f "$dir/slurm.conf" -i || die "slurmctld did not start ($l/slurmctld.log)"
  else
    alive "$l/slurmd.pid" || on "$h" slurmd -f "$dir/slurm.conf" -N "pha-mn-$h" || die "slurmd on $h did not start ($l/slurmd.log)"
  fi
}

up() {
  for b in ip unshare nsenter munged mungekey slurmctld slurmd sinfo; do
    command -v "$b" >/dev/null || { echo "SKIP: $b missing (apt-get install iproute2 util-linux munge slurm-wlm)"; exit 77; }
  done
  mkdir -p "$dir/local" "$dir/shared"
  chmod 0755 "$dir" "$dir/local"
  # An id unique among the clusters on this machine: the namespace names are global.
  [ -f "$dir/id" ] || echo $(($$ % 100000)) >"$dir/id"
  local sw
  sw=$(ns sw)
  ip netns add "$sw" 2>/dev/null || { echo "SKIP: cannot create network namespaces here (ip netns add failed)"; exit 77; }
  ip -n "$sw" link add br0 type bridge
  ip -n "$sw" link set br0 up
  : >"$dir/etc-hosts"
  echo "127.0.0.1 localhost" >>"$dir/etc-hosts"
  for h in "${hosts[@]}"; do echo "$(addr_of "$h") pha-mn-$h" >>"$dir/etc-hosts"; done
  mungekey --create --keyfile="$dir/munge.key" >/dev/null 2>&1 || [ -f "$dir/munge.key" ]
  chmod 0600 "$dir/munge.key"
  write_conf
  for h in "${hosts[@]}"; do
    local n link l=$dir/hosts/$h
    n=$(ns "$h")
    link=pmn$(id)$h
    mkdir -p "$l/spool" "$l/state" "$l/tmp"
    chmod 0755 "$l"
    ip netns add "$n"
    ip link add "$link" type veth peer name "${link}s"
    ip link set "$link" netns "$n"
    ip link set "${link}s" netns "$sw"
    ip -n "$sw" link set "${link}s" master br0
    ip -n "$sw" link set "${link}s" up
    ip -n "$n" link set "$link" name eth0
    ip -n "$n" addr add "$(addr_of "$h")/24" dev eth0
    ip -n "$n" link set lo up
    ip -n "$n" link set eth0 up
    # The holder: hostname and node-local mounts; it sleeps until `down` ends it.
    rm -f "$l/ready"
    # (nsenter, not `ip netns exec`: that remounts /sys, hiding the cgroup file system slurmd needs.)
    nsenter --net="/run/netns/$n" unshare --uts --mount --propagation private bash -c "
      hostname pha-mn-$h && mount --bind '$l' '$dir/local' && mount --bind '$dir/etc-hosts' /etc/hosts &&
      touch '$dir/local/ready' && exec sleep infinity" </dev/null >"$l/holder.log" 2>&1 &
    echo $! >"$l/holder.pid"
    for _ in $(seq 50); do [ -f "$l/ready" ] && break; sleep 0.1; done
    [ -f "$l/ready" ] || die "host $h did not come up: $(cat "$l/holder.log")"
  done
  for h in "${hosts[@]}"; do boot "$h"; done
  local state=""
  for _ in $(seq 60); do
    state=$(on ctl env SLURM_CONF="$dir/slurm.conf" sinfo -h -N -o %t 2>/dev/null | sort -u | xargs || true)
    [ "$state" = idle ] && { echo "export SLURM_CONF=$dir/slurm.conf"; return 0; }
    sleep 0.5
  done
  die "nodes not idle after 30 s (states '$state'); logs in $dir/hosts/*/"
}

# Processes of HOST other than its holder: everything in its network namespace.
host_pids() {
  local n
  n=$(ns "$1")
  ip netns pids "$n" 2>/dev/null | grep -vx "$(holder "$1")" || true
}

# A crash and the reboot after it: every process gone, and node-local tmp and UNIX sockets with
# them. (Slurm's PMIx plugin leaves spool/stepd.slurm.pmix.JOB.STEP behind; a requeued job keeps
# its id, and its step on this node would fail to bind that name.)
crash() {
  local p
  for p in $(host_pids "$1"); do kill -KILL "$p" 2>/dev/null || true; done
  find "$dir/hosts/$1/spool" -mindepth 1 -maxdepth 1 \( -type s -o -name 'pmix.*' \) -exec rm -rf {} +
  find "$dir/hosts/$1/tmp" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
}

down() {
  [ -f "$dir/id" ] || return 0
  local h p
  # Daemons first, politely (slurmd ends its steps), then whatever is left, then the holders.
  for h in "${hosts[@]}"; do
    for p in slurmd slurmctld munged; do
      if [ -f "$dir/hosts/$h/$p.pid" ]; then kill -TERM "$(cat "$dir/hosts/$h/$p.pid")" 2>/dev/null || true; fi
    done
  done
  for _ in $(seq 20); do
    local left=0
    for h in "${hosts[@]}"; do [ -n "$(host_pids "$h" 2>/dev/null)" ] && left=1; done
    [ "$left" = 0 ] && break
    sleep 0.25
  done
  for h in "${hosts[@]}"; do
    [ -f "$dir/hosts/$h/holder.pid" ] || continue
    crash "$h"
    kill -KILL "$(holder "$h")" 2>/dev/null || true
  done
  for h in "${hosts[@]}" sw; do ip netns del "$(ns "$h")" 2>/dev/null || true; done
  return 0
}

case "$cmd" in
  up) up ;;
  down) down ;;
  on) on "$@" ;;
  link)
    [ $# = 2 ] || die "usage: link DIR HOST up|down"
    ip -n "$(ns sw)" link set "pmn$(id)$1s" "$2"
    ;;
  crash) crash "$1" ;;
  boot) boot "$1" ;;
  pids) host_pids "$1" ;;
  *) die "unknown command '$cmd'" ;;
esac
