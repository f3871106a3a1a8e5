#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz into build-fuzz/ with clang,
# AddressSanitizer and UBSan (only the libraries they need). Used by
# scripts/test.sh (a short run of each in CI) and bench/fuzz.sh (long runs).
set -euo pipefail
cd "$(dirname "$0")/.."
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DSTREAMREC_FUZZ=ON -DSTREAMREC_BUILD_TESTS=OFF -DSTREAMREC_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
echo "build-fuzz: compiling (log in build-fuzz/ninja.log)" >&2
if ! ninja -C build-fuzz -j2 >build-fuzz/ninja.log 2>&1; then
  grep -E "error|FAILED" build-fuzz/ninja.log | head -40 >&2
  echo "build-fuzz: failed, see build-fuzz/ninja.log" >&2
  exit 1
fi
