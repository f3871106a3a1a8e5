#!/usr/bin/env bash
# How fast can per-user rankings (sr:{u:<id>}:rec) be written to Redis?
# Starts a throwaway redis-server on a free 127.0.0.1 port and runs
# bench/redis/ranking_writes.py against it: K in {10,20,50,100} members x
# member order (desc/asc score) x encoding (listpack / skiplist) x strategy
# (EVALSHA of the learner's DEL+ZADD script / MULTI DEL ZADD EXEC), pipelined.
# --strategies learner,learner_why compares what the learner sends without and
# with explanations (rankings.explain; docs/performance.md, "Explanations").
# Prints rankings/s and the server's CPU time per ranking.
#
# Usage: bench/ranking_writes.sh [--seconds S] [--k 10,20,50,100] [--pipeline N] [--users N]
# Needs: redis-server (Debian's redis 7), python3. About 40 s at the defaults.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
command -v redis-server >/dev/null || { echo "ranking_writes.sh: redis-server not found (apt-get install redis-server)" >&2; exit 2; }

dir="$(mktemp -d /tmp/ranking_writes.XXXXXX)"
redis_pid=""
cleanup() {
  if [[ -n "$redis_pid" ]]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

source "$here/redis/start_redis.sh"
start_redis "$dir" || exit 1

echo "# $(redis-server --version | cut -d' ' -f3), $(nproc) CPUs, pipeline of 64 unless --pipeline; rankings/s is the client's wall clock"
python3 "$here/redis/ranking_writes.py" --port "$redis_port" --expect-pid "$redis_pid" "$@"
