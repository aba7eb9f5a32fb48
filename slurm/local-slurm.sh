#!/usr/bin/env bash
# A one-machine Slurm (munge + slurmctld + slurmd) for trying and testing slurm/*.sbatch.
#   slurm/local-slurm.sh start|stop|status [STATE_DIR]     (default /tmp/pha-slurm)
# start prints `export SLURM_CONF=STATE_DIR/slurm.conf`; run it with eval "$(... start)".
# Idempotent: start on a running instance only prints the export, stop on a stopped one is a no-op.
# Environment: PHA_SLURM_CPUS (CPUs the node advertises, default 4 even on 2 cores),
# PHA_SLURM_PORT (slurmctld port, slurmd uses PORT+1; default 6817), PHA_SLURM_WAIT (seconds to wait
# for the node to be idle, default 30), PHA_SLURM_CRED_EXPIRE (job credential lifetime in seconds,
# which is also how long a requeued job waits before it may start again; default 10, Slurm's 120).
# Needs root and the packages slurm-wlm and munge.
set -euo pipefail
cmd=${1:-}
dir=${2:-/tmp/pha-slurm}
cpus=${PHA_SLURM_CPUS:-4}
port=${PHA_SLURM_PORT:-6817}
wait_s=${PHA_SLURM_WAIT:-30}
host=$(hostname -s)
conf=$dir/slurm.conf
sock=$dir/munge/munge.socket.2

die() { echo "local-slurm: $*" >&2; exit 1; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
# Something listens on 127.0.0.1:PORT (another Slurm, or a previous instance still running).
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# start_daemon NAME PIDFILE PORT CMD...: unless it runs already; refuses a port someone else holds,
# since the daemon would start, fail to bind, and leave only a log line behind.
start_daemon() {
  local name=$1 pidfile=$2 p=$3
  shift 3
  alive "$pidfile" && return 0
  port_busy "$p" && die "port $p is taken (another Slurm instance? stop it with '$0 stop DIR', or set PHA_SLURM_PORT)"
  "$@" || die "$name did not start (see $dir/log/$name.log)"
}

start() {
  for b in munged mungekey slurmctld slurmd sinfo; do
    command -v "$b" >/dev/null || die "$b not found: apt-get install -y slurm-wlm munge"
  done
  mkdir -p "$dir"/{munge,state,spool,log}
  chmod 0755 "$dir" "$dir/munge"
  if ! alive "$dir/munge/munged.pid"; then
    [ -f "$dir/munge/munge.key" ] || mungekey --create --keyfile="$dir/munge/munge.key" >/dev/null
    chmod 0600 "$dir/munge/munge.key"
    munged --force --socket="$sock" --key-file="$dir/munge/munge.key" \
      --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" \
      --seed-file="$dir/munge/munged.seed" || die "munged did not start (see $dir/log/munged.log)"
  fi
  cat > "$conf.new" <<CONF
ClusterName=pha-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$sock,cred_expire=${PHA_SLURM_CRED_EXPIRE:-10}
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ReturnToService=2
MpiDefault=none
KillWait=10
MinJobAge=3600
# Every 2 s (Slurm's default: 60) look for jobs that became eligible, e.g. a requeued one whose
# wait (cred_expire) ended: no event wakes the scheduler for those.
SchedulerParameters=sched_interval=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  mv "$conf.new" "$conf"
  export SLURM_CONF=$conf
  start_daemon slurmctld "$dir/slurmctld.pid" "$port" slurmctld -f "$conf" -i
  start_daemon slurmd "$dir/slurmd.pid" $((port + 1)) slurmd -f "$conf" -N "$host"
  local state=""
  for _ in $(seq $((wait_s * 2))); do
    state=$(sinfo -h -N -n "$host" -o %t 2>/dev/null || true)
    case "$state" in idle*|mix*|alloc*) echo "export SLURM_CONF=$conf"; return 0;; esac
    sleep 0.5
  done
  die "node $host not idle after ${wait_s}s (state '${state:-no answer}'; port $port taken by another Slurm? set PHA_SLURM_PORT); logs in $dir/log"
}

stop() {
  local f
  for f in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    if alive "$f"; then
      local pid
      pid=$(cat "$f")
      kill -TERM "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$f"
  done
  return 0
}

status() {
  local f rc=0
  for f in munge/munged.pid slurmctld.pid slurmd.pid; do
    if alive "$dir/$f"; then echo "$(basename "$f" .pid): running (pid $(cat "$dir/$f"))"
    else echo "$(basename "$f" .pid): stopped"; rc=3; fi
  done
  if [ "$rc" -eq 0 ]; then
    SLURM_CONF=$conf sinfo -N -o "%N %t %c" || rc=3
    echo "export SLURM_CONF=$conf"
  fi
  return $rc
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status [STATE_DIR]" >&2; exit 2 ;;
esac
