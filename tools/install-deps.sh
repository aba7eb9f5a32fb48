#!/usr/bin/env bash
# Installs every system dependency of pha with apt-get (Debian 12, as root). Idempotent and fast
# when everything is already present.
set -euo pipefail
packages=(build-essential cmake ninja-build pkg-config openmpi-bin libopenmpi-dev
  libhdf5-openmpi-dev hdf5-tools libboost-program-options-dev libfmt-dev libgtest-dev libgmock-dev
  libopenblas-dev libfftw3-dev python3-torch python3-h5py python3-numpy python3-matplotlib clang-format
  slurm-wlm munge libpmix-dev)
# slurm-wlm, munge: the one-machine Slurm of the Slurm test (apt starts no daemons here).
# libpmix-dev: `srun --mpi=pmix` loads libpmix.so, which only the -dev package provides.
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
