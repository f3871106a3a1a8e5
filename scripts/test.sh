#!/usr/bin/env bash
# Runs every test: installs what is missing (Debian packages), builds, ctest;
# then builds the libFuzzer targets (clang, ASan + UBSan) and runs each for a
# short while (bench/fuzz.sh runs them long); last, the unit tests under
# AddressSanitizer + UBSan in build-asan/ (docs/testing.md, "Sanitizers").
# Usage: scripts/test.sh [extra ctest arguments for the main suite]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
scripts/build.sh
# Integration tests start their own redis-server and embedded broker on free
# ports, so they can run side by side.
(cd build && ctest --output-on-failure -j2 --timeout 900 "$@")

scripts/build-fuzz.sh
(cd build-fuzz && ctest --output-on-failure -j2 -L fuzz)

# About 6 min of cold build and 1-2 min of tests on two idle cores.
scripts/test-sanitize.sh
