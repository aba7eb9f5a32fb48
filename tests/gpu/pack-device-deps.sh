#!/usr/bin/env bash
# Packs what the CUDA-only device build (tests/gpu/standalone) needs beyond the CUDA toolkit and
# that the GPU machines lack: fmt's headers (Debian's libfmt-dev) and GoogleTest's sources
# (libgtest-dev), into .device-deps/ (about 5 MB, git-ignored through info/exclude).
# Run it from the root of the checkout that the device tool sends, then name .device-deps in the
# run's carry:  run(command="bash tests/gpu/run-device-checks.sh", carry=[".device-deps"])
set -euo pipefail

dest=.device-deps
for need in /usr/include/fmt/format.h /usr/src/googletest/CMakeLists.txt; do
  [[ -e $need ]] || { echo "missing $need: apt-get install libfmt-dev libgtest-dev" >&2; exit 1; }
done
rm -rf "$dest"
mkdir -p "$dest/fmt/include"
cp -r /usr/include/fmt "$dest/fmt/include/"
cp -r /usr/src/googletest "$dest/googletest"
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qxF '/.device-deps/' "$exclude" 2>/dev/null || echo '/.device-deps/' >>"$exclude"
du -sh "$dest"
