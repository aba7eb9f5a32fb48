#!/usr/bin/env bash
# Installs every system dependency of pha with apt-get (Debian 12, as root). Idempotent and fast
# when everything is already present.
set -euo pipefail
packages=(build-essential cmake ninja-build pkg-config openmpi-bin libopenmpi-dev
  libhdf5-openmpi-dev hdf5-tools libboost-program-options-dev libfmt-dev libgtest-dev libgmock-dev
  libopenblas-dev libopenblas-openmp-dev libfftw3-dev python3-torch python3-h5py python3-numpy python3-matplotlib clang-format
  slurm-wlm munge libpmix-dev python3-absl python3-pip)
# slurm-wlm, munge: the one-machine Slurm of the Slurm test (apt starts no daemons here).
# libpmix-dev: `srun --mpi=pmix` loads libpmix.so, which only the -dev package provides.
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Readers the export and TensorBoard tests check pha's files with; Debian 12 packages neither.
# Pinned, without dependencies (numpy and absl come from Debian), into a private directory the
# tests put on PYTHONPATH: Debian's python stays untouched.
pydeps=/opt/pha-pydeps
pins=(safetensors==0.8.0 tensorboard==2.21.0 protobuf==7.36.2)
if ! PYTHONPATH=$pydeps /usr/bin/python3 -c \
    "import safetensors.numpy, tensorboard.backend.event_processing.event_accumulator" 2>/dev/null; then
  echo "install-deps: installing ${pins[*]} into $pydeps"
  $SUDO /usr/bin/python3 -m pip install -q --no-deps --upgrade --target "$pydeps" "${pins[@]}"
fi
