# shellcheck shell=bash disable=SC2034 # rc, got_term, step, pha: read by the sourcing scripts
# Shared by slurm/*.sbatch (sourced after `repo` is set to the repository root): the pha binary,
# the launcher command of a job step, the rank-to-host table, and running the step with the batch
# shell's signals forwarded to it. Exit statuses of the scripts: 2 = usage (bad arguments).

pha_log() { echo "[${log_tag:-pha} $(date +%H:%M:%S)] $*"; }
pha_usage_error() { pha_log "$*"; exit 2; }

# Checks the binary ($PHA, default build/launch/pha) and the launcher ($PHA_LAUNCHER: srun, the
# default, or mpirun); gives every task as many OpenMP/OpenBLAS threads as Slurm gave it CPUs.
pha_setup() {
  pha=${PHA:-$repo/build/launch/pha}
  launcher=${PHA_LAUNCHER:-srun}
  [ -x "$pha" ] || pha_usage_error "pha binary '$pha' not found or not executable (set PHA)"
  case "$launcher" in
    srun | mpirun) ;;
    *) pha_usage_error "PHA_LAUNCHER must be srun or mpirun, not '$launcher'" ;;
  esac
  # Open MPI refuses root without these; they change nothing for other users.
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1} OPENBLAS_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
  # From here on: SIGUSR1's default action would end this shell, and the job with it, unrequeued.
  pha_step_pid="" pha_signalled=0 got_term=0
  trap 'pha_forward USR1' USR1
  trap 'pha_forward TERM' TERM
}

# pha_step_cmd RANKS RUN_DIR: sets the array `step` to the launcher command for RANKS tasks. With
# PHA_RANK_LOGS=1 every rank writes its own log under RUN_DIR/logs instead of the job log.
pha_step_cmd() {
  local ranks=$1 logs=$2/logs
  case "$launcher" in
    # pmix: Debian's Open MPI has no Slurm PMI2 support; pha aborts the step itself on a failure.
    # --wait: a rank that dies (killed, its node lost) leaves the others blocked in a collective
    # until --parallel.timeout (300 s); srun ends the remaining tasks PHA_SRUN_WAIT (30) s after
    # the first one ended. Ranks that end normally or preempted (75) end within a second of each
    # other.
    srun) step=(srun --mpi=pmix --ntasks="$ranks" --kill-on-bad-exit=0 --wait="${PHA_SRUN_WAIT:-30}") ;;
    mpirun) step=(mpirun -np "$ranks" --oversubscribe --bind-to none) ;;
  esac
  [ "${PHA_RANK_LOGS:-0}" = 1 ] || return 0
  mkdir -p "$logs"
  case "$launcher" in
    srun) step+=(--output="$logs/rank-%t.log") ;;
    mpirun) step+=(--output-filename "$logs") ;;
  esac
}

# pha_rank_table RANKS: which host (and node-local id and GPUs) each of RANKS tasks gets.
pha_rank_table() {
  pha_log "rank-to-host table ($1 tasks):"
  # shellcheck disable=SC2016 # expanded by each task
  srun --ntasks="$1" --label bash -c 'echo "$(hostname) local $SLURM_LOCALID gpus ${CUDA_VISIBLE_DEVICES:-none}"' |
    sort -n | sed 's/^ *\([0-9]*\): /  rank \1 -> /'
}

# --signal=B:USR1@N (the lead time before the limit) and scancel's SIGTERM reach the batch shell
# only: forward them to the job step as SIGUSR1, which pha treats as preemption (checkpoint, 75).
pha_forward() {
  pha_signalled=1
  [ "$1" = TERM ] && got_term=1
  pha_log "received SIG$1: forwarding SIGUSR1 to the job step"
  [ -n "${pha_step_pid:-}" ] && kill -USR1 "$pha_step_pid" 2>/dev/null
}

# pha_run CMD...: runs the job step, forwarding signals; sets rc (its exit status) and got_term
# (1 when this shell got a SIGTERM). A signal before the step started is a preemption before any
# step: rc 75 without starting it (pha would not be ready to take the signal yet).
pha_run() {
  if [ "$pha_signalled" -eq 1 ]; then
    pha_log "signalled before the job step started: not starting it"
    rc=75
    return
  fi
  "$@" &
  pha_step_pid=$!
  while :; do
    rc=0
    wait "$pha_step_pid" || rc=$?
    [ "$pha_signalled" -eq 1 ] || break
    pha_signalled=0 # a trap cut the wait short: wait again for the step's own status
  done
}

# pha_append_row CSV RUN_DIR NAME=VALUE...: one results row of this array task (status from $rc).
pha_append_row() {
  local csv=$1 run_dir=$2 status row
  shift 2
  case "$rc" in 0) status="done" ;; 75) status=preempted ;; *) status=failed ;; esac
  pha_log "pha exited $rc ($status)"
  if row=$(/usr/bin/python3 "$repo/slurm/results-row.py" "$csv" "$run_dir" "$status" \
    "${SLURM_JOB_ID:-}" "$@"); then
    pha_log "row appended to $csv: $row"
  else
    pha_log "could not append the row to $csv"
    [ "$rc" -ne 0 ] || rc=1
  fi
}
