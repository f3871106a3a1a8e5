#!/usr/bin/env bash
# Configures and builds streamrec in build/ (Release, -march=native).
#   scripts/build.sh                        # everything: binary, tests, benchmarks
#   scripts/build.sh --target streamrec     # just the binary
#   scripts/build.sh -DSTREAMREC_SANITIZE=ON  # other arguments go to cmake
set -euo pipefail
cd "$(dirname "$0")/.."
targets=()
cmake_args=()
while [[ $# -gt 0 ]]; do
  if [[ "$1" == "--target" ]]; then targets+=("$2"); shift 2; else cmake_args+=("$1"); shift; fi
done
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${cmake_args[@]}" >/dev/null
echo "build: compiling (log in build/ninja.log)" >&2
# Two jobs: the machines this runs on have two cores, and the Eigen-heavy
# files need about 1 GiB each.
if ! ninja -C build -j2 "${targets[@]}" >build/ninja.log 2>&1; then
  grep -E "error|FAILED" build/ninja.log | head -40 >&2
  echo "build: failed, see build/ninja.log" >&2
  exit 1
fi
