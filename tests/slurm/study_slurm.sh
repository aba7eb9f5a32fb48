#!/usr/bin/env bash
# `pha study --slurm` on a one-machine Slurm (slurm/local-slurm.sh): a micro study (byte-level PHA
# and matched serial, a throughput cell) submitted as a job array of slurm/study-cell.sbatch; every
# task leaves its cell's done marker, `--collect` writes study.csv, whose validation losses equal
# those of the same study run locally (without Slurm) digit for digit; a second --slurm has nothing
# to submit.
#   study_slurm.sh PHA SOURCE_DIR   (root, packages slurm-wlm and munge; about 30 s on 2 cores)
# Exits 77 (ctest: skipped) when it cannot run here: not root, or Slurm not installed.
set -euo pipefail
[ -n "${PHA_STUDY_SLURM_DEADLINE:-}" ] || PHA_STUDY_SLURM_DEADLINE=1 exec timeout 200 bash "$0" "$@"
pha=$(realpath "$1")
src=$(realpath "$2")
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (munged and slurmd run as root)"; exit 77; }
for b in munged slurmctld slurmd sbatch; do
  command -v "$b" > /dev/null || { echo "SKIP: $b missing (bash tools/install-deps.sh)"; exit 77; }
done
work=$(mktemp -d /tmp/pha-study-slurm.XXXXXX)
state=$work/slurm
port_busy() { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }
for _ in $(seq 20); do
  PHA_SLURM_PORT=$((20000 + 2 * (RANDOM % 5000)))
  port_busy "$PHA_SLURM_PORT" || port_busy $((PHA_SLURM_PORT + 1)) || break
done
export PHA_SLURM_PORT PHA_HOME=$src
ok=0
cleanup() {
  trap - EXIT TERM INT
  [ -n "${SLURM_CONF:-}" ] && scancel --quiet --user=root 2> /dev/null
  "$src/slurm/local-slurm.sh" stop "$state" || true
  if [ "$ok" = 1 ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted or over the time budget"; exit 1' TERM INT
fail() {
  echo "FAIL: $*"
  exit 1
}
cd "$work"
awk 'BEGIN { split("the a red blue cat dog sat ran on in big small house car tree old new", w, " ");
  s = 11; for (line = 0; line < 600; line++) { out = "";
    for (i = 0; i < 9; i++) { s = (s * 1103515245 + 12345) % 2147483648; out = out w[1 + int(s / 65536) % 17] " " }
    print out "." } }' > text.txt
head -n 450 text.txt > train.txt
tail -n 150 text.txt > eval.txt
cat > micro.ini << 'INI'
[study]
train = train.txt
eval = eval.txt
seq_lens = 32
batch_tokens = 256
tokens = 2048
evals = 2
eval_bytes = 1024
threads = 1
[size.xs]
d = 48
layers = 1
heads = 3
[grid.main]
sizes = xs
variants = pha serial
[grid.speed]
kind = throughput
sizes = xs
variants = pha
seq_lens = 64
steps = 2
INI
"$pha" study micro.ini --dir here --no-plot > here.log 2>&1 || { cat here.log; fail "the local study failed"; }

eval "$("$src/slurm/local-slurm.sh" start "$state")"
"$pha" study micro.ini --dir sl --no-plot --slurm > submit.log 2>&1 || { cat submit.log; fail "--slurm failed"; }
job=$(sed -n 's/^Submitted batch job \([0-9]*\).*/\1/p' submit.log)
[ -n "$job" ] || { cat submit.log; fail "no job id in the output of --slurm"; }
for _ in $(seq 240); do
  s=$(scontrol -o show job "$job" | grep -o 'JobState=[A-Z_]*' | sort | uniq -c | xargs)
  case "$s" in *PENDING* | *RUNNING* | *COMPLETING* | *CONFIGURING* | "") sleep 0.5 ;; *) break ;; esac
done
[ "$s" = "3 JobState=COMPLETED" ] || fail "array $job ended: $s"
for cell in byte-xs-pha-T32-s1 byte-xs-serial-T32-s1 tp-byte-xs-pha-T64-s1; do
  [ -e "sl/cells/$cell/done" ] || { tail -20 "sl/cells/$cell/train.log"; fail "$cell has no done marker"; }
done
"$pha" study micro.ini --dir sl --no-plot --collect > collect.log 2>&1 || { cat collect.log; fail "--collect failed"; }
columns() { cut -d, -f1,30,34,35,36 "$1"; }  # cell, status, val_loss, val_ppl, bits_per_byte
[ "$(columns sl/study.csv)" = "$(columns here/study.csv)" ] ||
  { columns sl/study.csv; columns here/study.csv; fail "the Slurm study's results differ from the local ones"; }
"$pha" study micro.ini --dir sl --no-plot --slurm > again.log 2>&1
grep -q "nothing to submit" again.log || { cat again.log; fail "a second --slurm submitted again"; }
echo "PASS: array $job ($s), study.csv equal to the local run:"
columns sl/study.csv
ok=1
