#!/usr/bin/env bash
# Runs every test: installs what is missing (Debian packages), builds, ctest.
# Usage: scripts/test.sh [extra ctest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
scripts/build.sh
# Integration tests start their own redis-server and embedded broker on free
# ports, so they can run side by side.
cd build
ctest --output-on-failure -j2 --timeout 900 "$@"
