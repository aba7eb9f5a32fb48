#!/usr/bin/env bash
# `pha study` end to end on a micro study of generated text (4 cells: byte-level PHA and matched
# serial, a BPE PHA cell, a throughput cell):
#   1. a run whose first cell is interrupted (--train.stop_after) exits 75 with that cell partial;
#      a second study on its directory is refused while it runs; SIGTERM to a running study
#      reaches its cell, which checkpoints; the study exits 75;
#   2. the next run resumes that cell from its checkpoint, runs the rest, and writes study.csv with
#      one row per cell and the expected columns, all cells done;
#   3. a third run skips every finished cell (no cell is started again);
#   4. the figures (PNG and SVG) and study.md exist (skipped with the reason without matplotlib);
#   5. bad study files (unknown variant, missing corpus, indivisible size, a changed cell) are
#      refused with one message and a non-zero status.
#   study.sh PHA SOURCE_DIR
set -euo pipefail
pha=$(realpath "$1")
export PHA_HOME=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() {
  echo "FAIL: $*"
  exit 1
}

# Text with some structure: sentences of words drawn by a fixed linear congruential sequence.
awk 'BEGIN { split("the a red blue cat dog sat ran on in big small house car tree old new", w, " ");
  s = 7; for (line = 0; line < 900; line++) { out = "";
    for (i = 0; i < 9; i++) { s = (s * 1103515245 + 12345) % 2147483648; out = out w[1 + int(s / 65536) % 17] " " }
    print out "." } }' > text.txt
head -n 700 text.txt > train.txt
tail -n 200 text.txt > eval.txt

cat > micro.ini <<'INI'
[study]
name = micro
train = train.txt
eval = eval.txt
tokenizers = byte
seq_lens = 32
batch_tokens = 256
tokens = 3072
evals = 2
eval_bytes = 1024
threads = 1
train.lr = 3e-3

[size.xs]
d = 48
layers = 1
heads = 3

[grid.main]
sizes = xs
variants = pha serial

[grid.bpe]
sizes = xs
variants = pha
tokenizers = bpe:300

[grid.speed]
kind = throughput
sizes = xs
variants = pha
seq_lens = 64
steps = 3
INI
first=out/cells/byte-xs-pha-T32-s1

# 1. Interrupted in its first cell after 4 of 12 steps.
rc=0
"$pha" study micro.ini --dir out --train.stop_after=4 > run1.log 2>&1 || rc=$?
[ "$rc" -eq 75 ] || { cat run1.log; fail "the interrupted study exited $rc, not 75"; }
grep -q "byte-xs-pha-T32-s1 was interrupted after step 4" run1.log || { cat run1.log; fail "no interruption message"; }
[ ! -e "$first/done" ] || fail "the interrupted cell has a done marker"
grep -q "^byte-xs-pha-T32-s1,.*,partial," out/study.csv || { cat out/study.csv; fail "the interrupted cell is not partial in study.csv"; }
echo "1. interrupted after step 4: status 75, cell partial"

# 1b. SIGTERM to the study reaches the running cell (checkpoint, 75) and stops the study (in its own
# directory: --train.steps overrides the cell's length so that it is still running).
"$pha" study micro.ini --dir sig --train.steps=100000 > sig.log 2>&1 &
study_pid=$!
for _ in $(seq 300); do
  grep -q '"kind":"step"' sig/cells/byte-xs-pha-T32-s1/metrics.jsonl 2> /dev/null && break
  sleep 0.1
done
rc=0
"$pha" study micro.ini --dir sig > second.log 2>&1 || rc=$?
[ "$rc" -eq 1 ] && grep -q "another pha study (pid $study_pid) is running" second.log ||
  { cat second.log; fail "a second study on a running study's directory was not refused"; }
kill -TERM "$study_pid"
rc=0
wait "$study_pid" || rc=$?
[ "$rc" -eq 75 ] && grep -q "byte-xs-pha-T32-s1 was interrupted after step" sig.log ||
  { cat sig.log; fail "SIGTERM: the study exited $rc, not 75 with the cell interrupted"; }
grep -q "preempted after step" sig/cells/byte-xs-pha-T32-s1/train.log || fail "SIGTERM did not reach pha train"
echo "1b. SIGTERM: $(grep interrupted sig.log)"

# 2. Resumed and finished.
"$pha" study micro.ini --dir out > run2.log 2>&1 || { cat run2.log; fail "the second run failed"; }
grep -q "study micro: 4 cells, 0 finished, 4 to run" run2.log || { cat run2.log; fail "cell count"; }
grep -q "resumed from .*step 4" "$first/train.log" || { tail -30 "$first/train.log"; fail "the cell did not resume from its step-4 checkpoint"; }
header=$(head -n 1 out/study.csv)
for column in cell kind tokenizer size variant seq_len seed params flops_per_token plan_mib status \
  val_loss val_ppl bits_per_byte tokens_per_s peak_rss_mib run_dir; do
  echo ",$header," | grep -q ",$column," || fail "study.csv has no column $column"
done
[ "$(wc -l < out/study.csv)" -eq 5 ] || { cat out/study.csv; fail "study.csv does not have 4 rows"; }
[ "$(grep -c ',done,' out/study.csv)" -eq 4 ] || { cat out/study.csv; fail "not every cell is done"; }
for cell in byte-xs-pha-T32-s1 byte-xs-serial-T32-s1 bpe300-xs-pha-T32-s1 tp-byte-xs-pha-T64-s1; do
  grep -q "^$cell," out/study.csv || fail "no row for $cell"
  [ -e "out/cells/$cell/done" ] || fail "$cell has no done marker"
  [ -e "out/cells/$cell/weights.h5" ] && [ ! -e "out/cells/$cell/checkpoints" ] ||
    fail "$cell: weights.h5 missing or checkpoints left after it finished"
done
# The resumed cell trained all 12 steps and ended with its final evaluation.
/usr/bin/python3 - out/study.csv <<'PY'
import csv, math, sys
rows = {r["cell"]: r for r in csv.DictReader(open(sys.argv[1]))}
for name, r in rows.items():
    assert r["steps_done"] == r["steps"], (name, r["steps_done"], r["steps"])
    assert float(r["tokens_per_s"]) > 0 and float(r["params"]) > 0 and float(r["flops_per_token"]) > 0
    if r["kind"] == "train":
        assert r["val_step"] == r["steps"], (name, r["val_step"])
        bpb = float(r["bits_per_byte"])
        assert 0 < bpb < 8, (name, bpb)
        assert abs(float(r["val_ppl"]) - math.exp(float(r["val_loss"]))) < 1e-3 * float(r["val_ppl"])
pha, serial = rows["byte-xs-pha-T32-s1"], rows["byte-xs-serial-T32-s1"]
assert pha["block"] == "pha" and serial["block"] == "serial"
assert serial["n_kv"] == serial["n_q"] and int(serial["d_ff"]) == 4 * int(serial["d"]), serial
assert abs(int(pha["params"]) / int(serial["params"]) - 1) < 0.05, (pha["params"], serial["params"])
print("2. study.csv: 4 finished cells, final evaluations, bits/byte", {n: r["bits_per_byte"] for n, r in rows.items()})
PY

# 3. Nothing runs again.
starts=$(cat out/cells/*/train.log | grep -c "=== pha study")
"$pha" study micro.ini --dir out --no-plot > run3.log 2>&1 || { cat run3.log; fail "the third run failed"; }
grep -q "4 cells, 4 finished, 0 to run" run3.log || { cat run3.log; fail "finished cells not recognised"; }
[ "$(cat out/cells/*/train.log | grep -c "=== pha study")" -eq "$starts" ] || fail "a finished cell was started again"
echo "3. rerun: every cell skipped"

# 4. Figures and table.
grep -q "| byte | 32 | xs |" out/study.md || { cat out/study.md; fail "study.md has no PHA vs serial row"; }
if /usr/bin/python3 -c "import matplotlib" 2> /dev/null; then
  for f in loss_curves final_ppl final_ppl_flops throughput mixing; do
    for ext in png svg; do
      [ -s "out/figures/$f.$ext" ] || fail "no figure out/figures/$f.$ext"
    done
  done
  echo "4. figures: $(ls out/figures | tr '\n' ' ')"
else
  echo "4. SKIPPED the figures: /usr/bin/python3 has no matplotlib (study.md was checked)"
fi

# 5. Bad study files: one message each, status 1.
refused() { # refused NAME EXPECTED-TEXT (micro.ini edited by sed expression $3)
  sed "$3" micro.ini > "$1.ini"
  rc=0
  "$pha" study "$1.ini" --dir "bad-$1" > "$1.log" 2>&1 || rc=$?
  [ "$rc" -eq 1 ] || { cat "$1.log"; fail "$1: exit status $rc, not 1"; }
  [ "$(grep -c 'pha study: error' "$1.log")" -eq 1 ] || { cat "$1.log"; fail "$1: not one error message"; }
  grep -q "$2" "$1.log" || { cat "$1.log"; fail "$1: the message does not say '$2'"; }
  echo "5. $1: $(grep 'pha study: error' "$1.log")"
}
refused unknown_variant "unknown variant 'pha-fancy'" 's/^variants = pha serial/variants = pha pha-fancy/'
refused missing_corpus "corpus file 'nowhere.txt' (train) does not exist" 's/^train = train.txt/train = nowhere.txt/'
refused indivisible "d = 50 is not divisible by 3" 's/^d = 48/d = 50/'
refused no_budget "no budget for size xs" '/^tokens = /d'
sed 's/^tokens = 3072/tokens = 4096/' micro.ini > changed.ini
rc=0
"$pha" study changed.ini --dir out > changed.log 2>&1 || rc=$?
[ "$rc" -eq 1 ] && grep -q "was started with another configuration" changed.log ||
  { cat changed.log; fail "a changed budget over finished cells was not refused"; }
echo "5. changed study file over started cells: refused"
echo "PASS"
