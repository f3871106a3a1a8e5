#!/usr/bin/env bash
# Installs everything streamrec needs to build, test and run locally, from
# Debian's packages by name. Idempotent: prints nothing when all is there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  librdkafka-dev libhiredis-dev libeigen3-dev libboost-dev libcli11-dev
  libsimdjson-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcsv-dev
  redis-server redis-tools kcat docker-compose python3 procps
)
# Optional extras (the PyTorch peer for bench/learner_vs_torch.sh) are asked
# for with: scripts/bootstrap.sh --with-torch
# libopenblas0-openmp: without it Debian's torch runs on the reference BLAS, about 5x slower.
if [[ "${1:-}" == "--with-torch" ]]; then packages+=(python3-torch python3-numpy libopenblas0-openmp); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
echo "bootstrap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's redis-server package starts a system service on :6379; streamrec
# starts its own servers on free ports and never relies on that one.
