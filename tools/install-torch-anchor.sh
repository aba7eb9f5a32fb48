#!/usr/bin/env bash
# Installs the PyTorch 2.x that bench/torch_anchor.py needs into a private prefix (never over
# Debian's python3-torch 1.13, which tests/reference uses): the PyPI wheel (a CUDA build; its CPU
# part still loads a few CUDA libraries at import, installed beside it) and its pure-Python deps.
# The other CUDA libraries it loads (cudart, cuBLAS, cuFFT, cuDNN) come from the machine's CUDA
# toolkit in /usr/local/cuda (every build machine has one). download.pytorch.org's CPU-only wheels
# were not reachable from the build machines.
#   bash tools/install-torch-anchor.sh [prefix]        (default /opt/pha-torch; ~2 GB, ~2 min)
set -euo pipefail
prefix=${1:-/opt/pha-torch}
pip=(/usr/bin/python3 -m pip install --no-deps --disable-pip-version-check)
"${pip[@]}" --target "$prefix" torch==2.15.0 typing_extensions sympy mpmath networkx jinja2 \
  markupsafe fsspec filelock nvidia-cusparselt-cu13==0.8.1 nvidia-nvshmem-cu13==3.7.2 nvidia-cufile
# A second target: pip --target skips packages whose top folder (nvidia/) already exists.
"${pip[@]}" --target "$prefix-nccl" nvidia-nccl-cu13==2.30.7
ld=$(find "$prefix" "$prefix-nccl" -path '*nvidia*' -name 'lib*.so*' -printf '%h\n' | sort -u |
  paste -sd:)
LD_LIBRARY_PATH=$ld PYTHONPATH=$prefix /usr/bin/python3 -c \
  'import torch; print("torch", torch.__version__, "CPU capability", torch.backends.cpu.get_cpu_capability())'
