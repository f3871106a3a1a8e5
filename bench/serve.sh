#!/usr/bin/env bash
# Read throughput and latency of `streamrec serve`'s
# GET /v1/users/{id}/recommendations?k=10 (wrk, one client thread) beside
# raw Redis ZREVRANGE ... 0 9 WITHSCORES of the same keys from hiredis
# (redis-benchmark, built on hiredis, one client thread), at 1, 16 and 64
# connections, in one run against one throwaway redis-server.
#
# Redis holds USERS rankings of 50 items (sr:{u:u<n>}:rec), the items'
# hashes and sr:available (5% off sale) and sr:model, as the learner leaves
# them. Each request picks a random user. serve answers with one round trip
# to Redis (its read script: docs/serving.md), raw Redis with one command:
# the ratio is what the API costs.
#
# Usage: bench/serve.sh [--seconds S] [--users N] [--threads T] [--connections "1 16 64"]
#                       [--binary PATH] [--learner-rate R] [--perf S]
#   --binary        the streamrec to measure (default build/apps/streamrec)
#   --learner-rate  also run the embedded broker, `streamrec learn` on the
#                   same Redis and `produce --synthetic --rate R` beside it,
#                   for the whole run, and report what the learner kept up with
#   --perf S        record serve with `perf record -g` for S seconds at the
#                   last connection count and print the top symbols
# Needs: a built build/apps/streamrec, redis-server, redis-benchmark, wrk
# (apt-get install wrk). About 6 x S seconds. For speed figures on a shared
# machine run it under `chrt -f 20` (every process it starts inherits that).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
binary="$here/../build/apps/streamrec"
seconds=10 users=10000 threads=2 connections="1 16 64" learner_rate=0 perf_s=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --users) users=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --learner-rate) learner_rate=$2; shift 2 ;;
    --perf) perf_s=$2; shift 2 ;;
    *) echo "serve.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in redis-server redis-benchmark wrk; do
  command -v "$tool" >/dev/null || { echo "serve.sh: $tool not found (apt-get install ${tool/redis-benchmark/redis-tools})" >&2; exit 2; }
done
[[ -x "$binary" ]] || { echo "serve.sh: build streamrec first (scripts/build.sh --target streamrec)" >&2; exit 2; }

dir="$(mktemp -d /tmp/serve_bench.XXXXXX)"
redis_pid="" serve_pid="" learner_pids=""
cleanup() {
  for pid in $learner_pids $serve_pid $redis_pid; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
source "$here/redis/start_redis.sh"
start_redis "$dir" || exit 1

python3 "$here/serve/seed.py" --users "$users" | redis-cli -p "$redis_port" --pipe >/dev/null
STREAMREC_REDIS_URL="redis://127.0.0.1:$redis_port/0" STREAMREC_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9" \
  "$binary" serve --set serving.port=0 --set "serving.threads=$threads" --set log.level=warn \
  >"$dir/serve.out" 2>"$dir/serve.log" &
serve_pid=$!
for _ in $(seq 100); do [[ -s "$dir/serve.out" ]] && break; sleep 0.1; done
url="$(head -1 "$dir/serve.out")"
[[ -n "$url" ]] || { echo "serve.sh: streamrec serve did not start:" >&2; cat "$dir/serve.log" >&2; exit 1; }
[[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/v1/users/u1/recommendations")" == 200 ]] || { echo "serve.sh: serve does not answer" >&2; exit 1; }

if [[ $learner_rate -gt 0 ]]; then
  # The learner writes into the same Redis (its rankings replace the seeded
  # ones of the users it sees) for the whole run, as in production.
  "$binary" broker --address-file "$dir/bootstrap" >/dev/null 2>"$dir/broker.log" &
  learner_pids="$!"
  for _ in $(seq 100); do [[ -s "$dir/bootstrap" ]] && break; sleep 0.1; done
  [[ -s "$dir/bootstrap" ]] || { echo "serve.sh: the broker did not start" >&2; exit 1; }
  export STREAMREC_KAFKA_BOOTSTRAP_SERVERS="$(cat "$dir/bootstrap")" STREAMREC_REDIS_URL="redis://127.0.0.1:$redis_port/0"
  "$binary" learn --set consumer.session_timeout_ms=6000 --stats-file "$dir/stats.json" --status-interval 2 \
    2>"$dir/learn.log" &
  learner_pids="$! $learner_pids"
  for _ in $(seq 150); do grep -q "partition(s) assigned" "$dir/learn.log" 2>/dev/null && break; sleep 0.1; done
  "$binary" produce --synthetic --rate "$learner_rate" --impressions "$(( learner_rate * seconds * 20 ))" \
    >/dev/null 2>"$dir/produce.log" &
  learner_pids="$! $learner_pids"
  sleep 3  # the learner under way before the first point
  consumed_at() { python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["consumer"]["messages"])' "$dir/stats.json" 2>/dev/null || echo 0; }
  learner_t0=$EPOCHREALTIME learner_c0=$(consumed_at)
fi

# wrk's latency lines are like "50%  180.00us" / "99%    1.20ms": in ms.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.3f", v}'; }

echo "# $(date -u +%FT%TZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); $users users, ${seconds}s per point, serve with $threads threads, learner at ${learner_rate} events/s offered"
echo "| connections | serve QPS | serve p50 ms | serve p99 ms | Redis QPS | Redis p50 ms | Redis p99 ms | serve / Redis QPS |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in $connections; do
  if [[ $perf_s -gt 0 && $c == "${connections##* }" ]]; then
    (sleep 1; perf record -g -F 999 -p "$serve_pid" -o "$dir/perf.data" -- sleep "$perf_s" >/dev/null 2>&1) &
  fi
  wrk -t1 -c"$c" -d"${seconds}s" --latency -s "$here/serve/random_user.lua" "$url" -- "$users" >"$dir/wrk.txt" 2>&1
  serve_qps="$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$dir/wrk.txt")"
  serve_p50="$(awk '$1 == "50%" {print $2}' "$dir/wrk.txt" | to_ms)"
  serve_p99="$(awk '$1 == "99%" {print $2}' "$dir/wrk.txt" | to_ms)"
  errors="$(awk '/Non-2xx|Socket errors/' "$dir/wrk.txt")"
  [[ -z "$errors" ]] || { echo "serve.sh: wrk saw errors: $errors" >&2; exit 1; }
  # As many ZREVRANGEs as take about the same time (redis-benchmark counts requests, not seconds).
  requests=$(( seconds * 60000 ))
  redis-benchmark -p "$redis_port" -c "$c" -n "$requests" -r "$users" --csv \
    ZREVRANGE 'sr:{u:u__rand_int__}:rec' 0 9 WITHSCORES >"$dir/rb.csv" 2>/dev/null
  read -r redis_qps redis_p50 redis_p99 < <(tail -1 "$dir/rb.csv" | tr -d '"' | awk -F, '{printf "%.0f %.3f %.3f\n", $2, $5, $7}')
  ratio="$(awk -v a="$serve_qps" -v b="$redis_qps" 'BEGIN {printf "%.2f", a / b}')"
  echo "| $c | $serve_qps | $serve_p50 | $serve_p99 | $redis_qps | $redis_p50 | $redis_p99 | $ratio |"
done
if [[ $learner_rate -gt 0 ]]; then
  sleep 2.5  # one more stats-file write
  python3 - "$dir/stats.json" "$learner_c0" "$learner_t0" "$EPOCHREALTIME" "$dir/learn.log" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
c0, t0, t1 = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
f = s["sink"]["freshness_ms"]
print("# learner beside it: %.0f events/s consumed over the run; freshness p50 / p99 %.0f / %.0f ms; %d rankings written"
      % ((s["consumer"]["messages"] - c0) / (t1 - t0), f["p50"], f["p99"], s["sink"]["rankings_written"]))
PY
fi
if [[ $perf_s -gt 0 ]]; then
  sleep 1
  perf report -i "$dir/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep '%' | grep -v '^#' | sed 's/ *$//' | head -12
  perf report -i "$dir/perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null | grep '%' | grep -v '^#' | sed 's/ *$//' | head -40
  cp "$dir/perf.data" /tmp/serve_bench.perf.data && echo "# perf data kept in /tmp/serve_bench.perf.data (perf report -i ... -g caller)"
fi
