#!/usr/bin/env bash
# Configures and builds streamrec and its tests with sanitizers, each in its
# own build directory so the Release build/ stays as it is:
#   scripts/build-sanitize.sh                      # build-asan/: AddressSanitizer + UBSan, everything
#   scripts/build-sanitize.sh --target core_test   # build-asan/: one target
#   scripts/build-sanitize.sh --thread --target X  # build-tsan/: ThreadSanitizer
# -O1 -g1 with -march=native off: GCC 12 at -O1 reports -Werror=uninitialized
# false positives inside Eigen's AVX-512 intrinsics, and the point here is to
# check our code, not to be fast. ccache is the launcher when it is installed.
# Run the tests with scripts/sanitizer-env.sh (suppressions, options).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build-asan
sanitize=-DSTREAMREC_SANITIZE=ON
targets=()
cmake_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --target) targets+=("$2"); shift 2 ;;
    --target=*) targets+=("${1#--target=}"); shift ;;
    --thread) dir=build-tsan; sanitize=-DSTREAMREC_SANITIZE_THREAD=ON; shift ;;
    *) cmake_args+=("$1"); shift ;;
  esac
done
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Sanitize "$sanitize" -DSTREAMREC_NATIVE=OFF \
  -DSTREAMREC_BUILD_BENCH=OFF "${launcher[@]}" "${cmake_args[@]}" >/dev/null
echo "$dir: compiling (log in $dir/ninja.log)" >&2
if ! ninja -C "$dir" -j2 "${targets[@]}" >"$dir/ninja.log" 2>&1; then
  grep -E "error|FAILED" "$dir/ninja.log" | head -40 >&2
  echo "$dir: failed, see $dir/ninja.log" >&2
  exit 1
fi
