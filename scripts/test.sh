#!/usr/bin/env bash
# Runs every test, stage by stage (what CI runs, through .ci/run):
#   release build, release tests   build/ (Release), the whole suite with ctest
#   fuzz build, fuzz runs          build-fuzz/ (clang, ASan + UBSan): each libFuzzer
#                                  target for a fixed count from a fixed seed
#                                  (bench/fuzz.sh runs them long)
#   asan build, asan tests         build-asan/: the whole suite but the memory-bound
#                                  test under AddressSanitizer + UBSan
#   tsan build, tsan tests         build-tsan/: the test binaries of our threads under
#                                  ThreadSanitizer
# Each stage prints a line when it starts and one with its time when it ends;
# the first that fails stops the script with its exit status. The times of
# the last measured runs are in docs/testing.md, "What CI runs".
# Usage: scripts/test.sh [extra ctest arguments for the release tests]
set -euo pipefail
cd "$(dirname "$0")/.."

summary=()
# stage NAME COMMAND...: one stage; its command is one process, so that a
# failure inside it is its exit status (set -e does not reach into a
# command run as an `if` condition).
stage() {
  local name="$1"; shift
  local start=$SECONDS
  echo "== stage $name: start at $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  local rc=0
  "$@" || rc=$?
  local line
  line=$(printf '%-16s %5d s  %s' "$name" $(( SECONDS - start )) "$([[ $rc -eq 0 ]] && echo passed || echo "FAILED (exit $rc)")")
  echo "== stage $line, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  summary+=("$line")
  if [[ $rc -ne 0 ]]; then print_summary; exit $rc; fi
}
print_summary() {
  echo "== stages (total $SECONDS s):" >&2
  printf '   %s\n' "${summary[@]}" >&2
}

scripts/bootstrap.sh
stage "release build" scripts/build.sh
# Integration tests start their own redis-server and embedded broker on free
# ports, so they can run side by side.
stage "release tests" bash -c 'cd build && ctest --output-on-failure -j2 --timeout 900 "$@"' ctest "$@"
stage "fuzz build" scripts/build-fuzz.sh
stage "fuzz runs" bash -c 'cd build-fuzz && ctest --output-on-failure -j2 -L fuzz'
stage "asan build" scripts/test-sanitize.sh --fault --build-only
stage "asan tests" scripts/test-sanitize.sh --fault
stage "tsan build" scripts/test-sanitize.sh --thread --build-only
stage "tsan tests" scripts/test-sanitize.sh --thread
print_summary
