#!/usr/bin/env bash
# Installs everything streamrec needs to build, test and run locally, from
# Debian's packages by name. Idempotent: prints nothing when all is there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  librdkafka-dev libhiredis-dev libeigen3-dev libboost-dev libcli11-dev libhnswlib-dev
  libsimdjson-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcsv-dev
  redis-server redis-tools kcat docker-compose python3 procps
  clang libclang-rt-14-dev
  prometheus  # promtool: tests check every /metrics with `promtool check metrics`
  chromium  # headless: tests load serve's dashboard in a real browser
  python3-redis python3-confluent-kafka libhiredis-dev  # the client examples of docs/serving.md, run by its test
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
# Debian's prometheus package starts its server (every interface, :9090)
# where systemd runs; the tests need only its promtool.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
  $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
