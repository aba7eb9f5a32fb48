#!/usr/bin/env bash
# Packs what the device build (tests/gpu/standalone) needs beyond the CUDA toolkit and that the
# GPU machines lack, into .device-deps/ (about 12 MB, git-ignored through info/exclude):
#   fmt/include      fmt's headers (Debian's libfmt-dev)
#   googletest/      GoogleTest's sources (libgtest-dev)
#   include/, lib/   FFTW's header and float/double shared libraries (libfftw3-dev), and a CBLAS:
#                    cblas.h (OpenBLAS's) with the reference libblas.so.3 (Debian's libblas3,
#                    which needs only libc; fetched with apt-get download when not installed)
# Run it from the root of the checkout that the device tool sends, then name .device-deps in the
# run's carry:  run(command="bash tests/gpu/run-device-checks.sh", carry=[".device-deps"])
set -euo pipefail

dest=.device-deps
multiarch=/usr/lib/x86_64-linux-gnu
openblas_include=/usr/include/x86_64-linux-gnu/openblas-pthread
for need in /usr/include/fmt/format.h /usr/src/googletest/CMakeLists.txt /usr/include/fftw3.h \
  $multiarch/libfftw3f.so.3 $multiarch/libfftw3.so.3 $openblas_include/cblas.h; do
  [[ -e $need ]] || {
    echo "missing $need: apt-get install libfmt-dev libgtest-dev libfftw3-dev libopenblas-dev" >&2
    exit 1
  }
done
rm -rf "$dest"
mkdir -p "$dest/fmt/include" "$dest/include" "$dest/lib"
cp -r /usr/include/fmt "$dest/fmt/include/"
cp -r /usr/src/googletest "$dest/googletest"
cp /usr/include/fftw3.h "$openblas_include/cblas.h" "$openblas_include/openblas_config.h" \
  "$dest/include/"
cp -L $multiarch/libfftw3f.so.3 $multiarch/libfftw3.so.3 "$dest/lib/"
blas=$multiarch/blas/libblas.so.3
if [[ ! -e $blas ]]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download libblas3 >/dev/null 2>&1 && dpkg -x libblas3_*.deb x)
  blas=$tmp/x$multiarch/blas/libblas.so.3
fi
cp -L "$blas" "$dest/lib/libblas.so.3"
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qxF '/.device-deps/' "$exclude" 2>/dev/null || echo '/.device-deps/' >>"$exclude"
du -sh "$dest"
