#!/usr/bin/env bash
# Open MPI's remote shell for the namespace cluster of cluster.sh (mpirun --mca plm_rsh_agent):
# called like ssh, `rsh-agent.sh [ssh options] HOST COMMAND...`, it runs COMMAND through `sh -c` on
# HOST (pha-mn-n1, pha-mn-n2 or pha-mn-ctl) by entering that host's namespaces. PHA_MN_DIR is the
# cluster's directory (mpirun passes its environment on to the agent).
set -euo pipefail
while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do shift; done  # ssh options: none apply here
host=${1:?rsh-agent.sh: no host}
shift
holder=${PHA_MN_DIR:?rsh-agent.sh: PHA_MN_DIR not set}/hosts/${host#pha-mn-}/holder.pid
[ -f "$holder" ] || { echo "rsh-agent.sh: no host '$host' in $PHA_MN_DIR" >&2; exit 255; }
exec nsenter -t "$(cat "$holder")" -n -m -u -- sh -c "$*"
