#!/usr/bin/env bash
# `pha export` -> the Python `safetensors` package and h5py -> `pha import` -> `pha eval`.
# Trains a small untied model (channel mixer) a few steps, then checks:
#   - every tensor of model.safetensors (F32) equals h5py's read of weights.h5 bit for bit, with
#     the names of model.md and the shapes config.json implies; BF16 is numpy's round-to-nearest-
#     even of the F32 values;
#   - import writes a weights file whose datasets equal the original's bit for bit, and `pha eval`
#     of it gives the same loss as of the original (printed to 8 decimals, equal strings); a BF16
#     file imports as its values widened to f32;
#   - a missing file, a truncated file, a header that lies about offsets, an unknown dtype, a
#     missing tensor and a shape that disagrees with config.json are each refused with one message
#     and a non-zero exit.
#   export_import.sh PHA
set -euo pipefail
pha=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
export PYTHONPATH=/opt/pha-pydeps${PYTHONPATH:+:$PYTHONPATH}
/usr/bin/python3 -c "import safetensors.numpy" 2>/dev/null ||
  { echo "export_import: the Python safetensors package is missing: run tools/install-deps.sh"; exit 1; }
"$pha" train --model.preset=tiny --model.d=64 --model.n_q=4 --model.n_kv=2 --model.d_ff=96 \
  --model.gss_f=80 --model.gss_h=16 --model.dss_n=8 --model.n_layers=2 --model.vocab=500 \
  --model.max_seq_len=32 --model.mixer=channel --model.tie_embeddings=false \
  --train.seq_len=32 --train.batch_size=4 --train.steps=4 --train.warmup=1 --train.eval_every=0 \
  --train.eval_batches=2 --data.synthetic_tokens=20000 --run.dir="$work/run" > "$work/train.log"
"$pha" export --run "$work/run" --out "$work/f32"
"$pha" export --weights "$work/run/weights.h5" --out "$work/bf16" --dtype bf16
"$pha" import --safetensors "$work/f32/model.safetensors" --out "$work/imported.h5"
"$pha" import --safetensors "$work/bf16/model.safetensors" --out "$work/imported_bf16.h5"

/usr/bin/python3 - "$work" <<'PY'
import json, sys
import h5py, numpy as np, torch
from safetensors import safe_open
from safetensors.numpy import load_file
work = sys.argv[1]
ok = True
cfg = json.load(open(f"{work}/f32/config.json"))
d, L, V = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["padded_vocab_size"]
with h5py.File(f"{work}/run/weights.h5") as h5:
    ref = {name: h5["model"][name][()] for name in h5["model"]}
f32 = load_file(f"{work}/f32/model.safetensors")
from safetensors.torch import load_file as load_torch  # numpy has no bfloat16; torch does
bf16 = {k: v.view(torch.int16).numpy().view(np.uint16) for k, v in
        load_torch(f"{work}/bf16/model.safetensors").items() if v.dtype == torch.bfloat16}
with safe_open(f"{work}/f32/model.safetensors", "np") as f:
    meta = f.metadata()
ok &= meta.get("format") == "pt" and "[model]" in meta.get("pha.config", "")
ok &= sorted(f32) == sorted(ref) and len(ref) > 10
ok &= all(f32[k].dtype == np.float32 and f32[k].shape == ref[k].shape and
          np.array_equal(f32[k].view(np.uint32), ref[k].view(np.uint32)) for k in ref)
print(f"F32: {len(f32)} tensors equal weights.h5 bit for bit: {ok}")
expected_shapes = {"embedding.weight": (V, d), "head.weight": (V, d), "final_norm.weight": (d,),
                   "layers.0.ffn.w1": (cfg["intermediate_size"], d),
                   "layers.1.gss.c_re": (cfg["gss_state_channels"], cfg["dss_modes"]),
                   "layers.1.mixer.alpha": (3, d)}
shapes_ok = all(f32[k].shape == s for k, s in expected_shapes.items())
print(f"shapes implied by config.json: {shapes_ok}")
ok &= shapes_ok and cfg["num_hidden_layers"] == 2 and cfg["tie_word_embeddings"] is False
# BF16 (read by torch): numpy's round to nearest even of the f32 bits, as raw 16-bit words.
bf_ok = sorted(bf16) == sorted(ref)
for k, x in ref.items():
    u = x.view(np.uint32).astype(np.uint64)
    want = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    bf_ok &= bf16[k].shape == x.shape and np.array_equal(bf16[k], want)
print(f"BF16: every value is the round-to-nearest-even of the F32 one: {bf_ok}")
ok &= bf_ok
with h5py.File(f"{work}/imported.h5") as h5:
    imp = {name: h5["model"][name][()] for name in h5["model"]}
same = sorted(imp) == sorted(ref) and all(np.array_equal(imp[k].view(np.uint32), ref[k].view(np.uint32)) for k in ref)
print(f"imported weights equal the original bit for bit: {same}")
ok &= same
with h5py.File(f"{work}/imported_bf16.h5") as h5:
    widened = all(np.array_equal(h5["model"][k][()].view(np.uint32),
                                 bf16[k].astype(np.uint32) << 16) for k in ref)
print(f"the imported BF16 file holds the BF16 values widened to f32: {widened}")
ok &= widened
sys.exit(0 if ok else 1)
PY

# The same loss from the original and the imported weights on fixed token sequences.
/usr/bin/python3 - "$work/tokens.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f["tokens"] = np.random.default_rng(3).integers(0, 500, size=(3, 32), dtype=np.int32)
PY
a=$("$pha" eval --weights "$work/run/weights.h5" --tokens "$work/tokens.h5" | sed 's/.*: loss/loss/')
b=$("$pha" eval --weights "$work/imported.h5" --tokens "$work/tokens.h5" | sed 's/.*: loss/loss/')
echo "original: $a"; echo "imported: $b"
[ "$a" = "$b" ] || { echo "FAIL: the imported weights give another loss"; exit 1; }
a=$("$pha" eval --weights "$work/run/weights.h5" --batches 2 | sed 's/.*: loss/loss/')
b=$("$pha" eval --weights "$work/imported.h5" --batches 2 | sed 's/.*: loss/loss/')
[ "$a" = "$b" ] || { echo "FAIL: validation differs: $a vs $b"; exit 1; }

# Bad inputs: one message each, a non-zero exit.
refuse() {  # refuse NAME EXPECTED-FRAGMENT ARGS...
  local name=$1 want=$2
  shift 2
  if "$pha" "$@" > "$work/out.txt" 2>&1; then
    echo "FAIL ($name): accepted"; exit 1
  fi
  if ! grep -q -- "$want" "$work/out.txt" || [ "$(grep -c error "$work/out.txt")" -ne 1 ]; then
    echo "FAIL ($name): expected one error containing '$want':"; cat "$work/out.txt"; exit 1
  fi
  echo "refused ($name): $(cat "$work/out.txt")"
}
mkdir -p "$work/bad"
cp "$work/f32/config.json" "$work/bad/"
st="$work/bad/model.safetensors"
refuse missing "does not exist" import --safetensors "$st" --out "$work/x.h5"
head -c 5000 "$work/f32/model.safetensors" > "$st"
refuse truncated "truncated" import --safetensors "$st" --out "$work/x.h5"
/usr/bin/python3 - "$work/f32/model.safetensors" "$work/bad" <<'PY'
import json, sys
src, out = sys.argv[1:]
raw = open(src, "rb").read()
n = int.from_bytes(raw[:8], "little")
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
def write(name, h):
    text = json.dumps(h).encode()
    text += b" " * (-len(text) % 8)
    open(f"{out}/{name}", "wb").write(len(text).to_bytes(8, "little") + text + data)
lie = dict(header); e = dict(lie["final_norm.weight"]); e["data_offsets"] = [0, e["data_offsets"][1] - e["data_offsets"][0]]
lie["final_norm.weight"] = e; write("lie.safetensors", lie)
unk = dict(header); e = dict(unk["final_norm.weight"]); e["dtype"] = "Q7"; unk["final_norm.weight"] = e
write("dtype.safetensors", unk)
PY
refuse offsets "overlap or leave a hole" import --safetensors "$work/bad/lie.safetensors" --config "$work/bad/config.json" --out "$work/x.h5"
refuse dtype "dtype 'Q7'" import --safetensors "$work/bad/dtype.safetensors" --config "$work/bad/config.json" --out "$work/x.h5"
/usr/bin/python3 - "$work/f32/model.safetensors" "$work/bad/less.safetensors" <<'PY'
import sys
from safetensors.numpy import load_file, save_file
t = load_file(sys.argv[1]); del t["layers.1.gss.d"]; save_file(t, sys.argv[2])
PY
refuse missing-tensor "lacks the tensor 'layers.1.gss.d'" import --safetensors "$work/bad/less.safetensors" --config "$work/bad/config.json" --out "$work/x.h5"
sed 's/"intermediate_size": 96/"intermediate_size": 128/' "$work/f32/config.json" > "$work/bad/config.json"
refuse shape "has shape \[96, 64\] but" import --safetensors "$work/f32/model.safetensors" --config "$work/bad/config.json" --out "$work/x.h5"
refuse dtype-option "use f32 or bf16" export --run "$work/run" --dtype f16 --out "$work/y"
echo "export_import: all checks passed"
