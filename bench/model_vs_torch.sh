#!/usr/bin/env bash
# Forward+backward tokens/s and peak memory of pha against two PyTorch baselines, same model,
# configuration and thread count, run one after the other in this script (the machine is shared
# and noisy: compare the ratios, not the absolute numbers). Prints a Markdown table.
#   ref:    tests/reference/bench_ref.py on Debian's PyTorch 1.13: the naive reference (full
#           [B, n_q, T, T] scores, K/V repeated for GQA, composed elementwise ops);
#   anchor: bench/torch_anchor.py on PyTorch >= 2.5 from a private install ($PHA_TORCH, default
#           /opt/pha-torch; docs/results.md): SDPA with enable_gqa, fused GELU/norms/loss.
# Both PyTorch sides run on the BLAS kernel class pha uses: the ref links Debian's OpenBLAS, which
# follows OPENBLAS_CORETYPE as pha does; the anchor's MKL and ATen kernels are capped at AVX2 when
# pha's OpenBLAS kernel is an AVX2 one (Haswell, Zen), AVX-512 otherwise.
#   bash bench/model_vs_torch.sh [threads] [config...]   env: ROUNDS (1: each side's best of
#   ROUNDS alternating runs), STEPS (timed steps; default 12 tiny, 2 pha-125m, 3 otherwise),
#   RECOMPUTE (pha's --recompute: none by default; the PyTorch sides keep every activation)
# A config is preset:T:B[:block]; default tiny:256:8 small:512:4 pha-125m:1024:1 small:512:4:gss+ffn.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
shift || true
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(tiny:256:8 small:512:4 pha-125m:1024:1 small:512:4:gss+ffn)
bench=${PHA_BUILD_DIR:-build}/bench/pha_bench_model
[ -x "$bench" ] || cmake --build "${PHA_BUILD_DIR:-build}" --target pha_bench_model
torch_dir=${PHA_TORCH:-/opt/pha-torch}
[ -d "$torch_dir/torch" ] ||
  echo "model_vs_torch.sh: no PyTorch 2.x under $torch_dir (PHA_TORCH): the anchor column stays" \
    "empty; install it with: bash tools/install-torch-anchor.sh" >&2
# The CUDA wheel's libraries that its CPU part still loads (never used here).
torch_ld=$(find "$torch_dir" "$torch_dir-nccl" -name 'lib*.so*' \
  \( -path '*nvidia*' \) -printf '%h\n' 2>/dev/null | sort -u | paste -sd:)
anchor() {  # args of torch_anchor.py; uses $threads and $isa
  env LD_LIBRARY_PATH="$torch_ld${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" PYTHONPATH="$torch_dir" \
    OMP_NUM_THREADS="$threads" "${isa[@]}" /usr/bin/python3 bench/torch_anchor.py "$@"
}
# The naive ref links libblas.so.3 (Debian's alternatives: OpenBLAS's pthreads build); it gets
# the OpenBLAS build pha links (the OpenMP one, which shares torch's OpenMP pool as it shares
# pha's), so both sides run the same library and kernel. PHA_REF_OWN_BLAS=1 keeps its own.
blas_dir=$(ldd "$bench" | awk '/libopenblas\.so/ {print $3}' | xargs dirname)
ref_ld=()
[ "${PHA_REF_OWN_BLAS:-0}" = 1 ] || [ ! -e "$blas_dir/libblas.so.3" ] ||
  ref_ld=(LD_LIBRARY_PATH="$blas_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
echo "ref BLAS: ${ref_ld[*]:-libblas.so.3 of the system}; pha recompute: ${RECOMPUTE:-none}" >&2
echo "| config | threads | pha tok/s | ref tok/s | anchor tok/s | pha/ref | pha/anchor | pha MiB | ref MiB | anchor MiB | mem pha/ref | mem pha/anchor |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for c in "${configs[@]}"; do
  IFS=: read -r preset seq batch block <<<"$c"
  block=${block:-pha}
  # Timed steps (after one warm-up step each side): a few seconds per run.
  case $preset in tiny) steps=12 ;; pha-125m) steps=2 ;; *) steps=3 ;; esac
  steps=${STEPS:-$steps}
  common=(--preset "$preset" --block "$block" --seq "$seq" --batch "$batch" --steps "$steps")
  pha_runs=() ref_runs=() anchor_runs=()
  for ((round = 0; round < ${ROUNDS:-1}; ++round)); do  # the three sides alternate
    pha_runs+=("$(OMP_NUM_THREADS=$threads "$bench" "${common[@]}" --threads "$threads" \
      --recompute "${RECOMPUTE:-none}")")
    case $(echo "${pha_runs[-1]}" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["openblas_core"])') in
      Haswell | Zen) isa=(MKL_ENABLE_INSTRUCTIONS=AVX2 ATEN_CPU_CAPABILITY=avx2) ;;
      *) isa=(MKL_ENABLE_INSTRUCTIONS=AVX512 ATEN_CPU_CAPABILITY=avx512) ;;
    esac
    ref_runs+=("$(env "${ref_ld[@]}" OMP_NUM_THREADS=$threads /usr/bin/python3 \
      tests/reference/bench_ref.py "${common[@]}" --threads "$threads")")
    anchor_runs+=("$(anchor "${common[@]}" --threads "$threads" 2>/dev/null | tail -1 || echo '{}')")
  done
  /usr/bin/python3 - "$c" "$threads" "${#pha_runs[@]}" "${pha_runs[@]}" "${ref_runs[@]}" \
    "${anchor_runs[@]}" <<'PY'
import json, sys
c, threads, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
runs = [json.loads(s) for s in sys.argv[4:]]
nan = float("nan")
def best(side):  # the fastest round of one side; its peak RSS is the largest of the rounds
    rs = [r for r in runs[side * rounds:(side + 1) * rounds] if "tokens_per_s" in r]
    if not rs:
        return nan, nan
    return max(r["tokens_per_s"] for r in rs), max(r["peak_rss_mib"] for r in rs)
(tp, mp), (tr, mr), (ta, ma) = best(0), best(1), best(2)
print(f"| {c} | {threads} | {tp:.0f} | {tr:.0f} | {ta:.0f} | {tp/tr:.2f}x | {tp/ta:.2f}x | "
      f"{mp:.0f} | {mr:.0f} | {ma:.0f} | {mp/mr:.2f} | {mp/ma:.2f} |")
PY
done
