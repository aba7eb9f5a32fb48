#!/usr/bin/env bash
# Checks that a command FAILS, quickly, with given messages: for the MPI jobs that must end (a
# stuck collective, a failure on one rank) rather than hang or pass.
#   expect_abort.sh MAX_SECONDS REGEX [REGEX...] -- COMMAND [ARGS...]
# Passes when the command exits non-zero within MAX_SECONDS and every REGEX matches a line of its
# output (stdout and stderr together).
set -uo pipefail
max_seconds=$1
shift
patterns=()
while (($# > 0)) && [[ $1 != -- ]]; do
  patterns+=("$1")
  shift
done
shift  # the --
start_ns=$(date +%s%N)
output=$(timeout --kill-after=5 "$max_seconds" "$@" 2>&1)
status=$?
elapsed_ms=$((($(date +%s%N) - start_ns) / 1000000))
printf '%s\n' "$output"
echo "expect_abort: exit status $status after ${elapsed_ms} ms"
if ((status == 124 || status == 137)); then
  echo "expect_abort: FAIL: still running after ${max_seconds} s (a hang)"
  exit 1
fi
if ((status == 0)); then
  echo "expect_abort: FAIL: the command succeeded; it should have failed"
  exit 1
fi
for pattern in "${patterns[@]}"; do
  if ! grep -Eq -- "$pattern" <<<"$output"; then
    echo "expect_abort: FAIL: no line of the output matches: $pattern"
    exit 1
  fi
done
echo "expect_abort: failed as expected"
