#!/usr/bin/env bash
# A real behaviour log through the whole pipeline, at full speed, with default
# settings: `streamrec produce --replay FILE --format F` into the embedded
# Kafka broker while `streamrec learn --catalog FILE` consumes it into a local
# redis-server. The learner must end by itself (--stop-after-idle), and then
# bench/replay_check.py reads Redis with its own client and holds it against
# the file: every item of the catalog there, every user's and item's click and
# purchase counter exact, every user who clicked something ranked.
#
#   bench/replay_acceptance.sh                                   # the Taobao sample
#   bench/replay_acceptance.sh --data ../shared/data/rees46-2019-oct-head.csv --format rees46
#   bench/replay_acceptance.sh --out DIR                         # keep logs and the report in DIR
#
# Prints the check's table and exits non-zero when any check fails.
set -euo pipefail
cd "$(dirname "$0")/.."

data=../shared/data/taobao-userbehavior-2h.csv
format=taobao
out=""
idle=10
while [[ $# -gt 0 ]]; do
  case "$1" in
    --data) data="$2"; shift ;;
    --format) format="$2"; shift ;;
    --out) out="$2"; shift ;;
    --idle) idle="$2"; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "replay_acceptance: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ -r "$data" ]] || { echo "replay_acceptance: cannot read --data $data" >&2; exit 2; }
data=$(realpath "$data")

scripts/build.sh --target streamrec >/dev/null
bin=$PWD/build/apps/streamrec
[[ -n "$out" ]] || out=$(mktemp -d)
mkdir -p "$out"
out=$(realpath "$out")

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --logfile "$out/redis.log" &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

rm -f "$out/bootstrap"
"$bin" broker --address-file "$out/bootstrap" >/dev/null 2>"$out/broker.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s "$out/bootstrap" ]] && break; sleep 0.1; done
[[ -s "$out/bootstrap" ]] || { echo "replay_acceptance: broker did not start ($out/broker.log)" >&2; exit 1; }

export STREAMREC_KAFKA_BOOTSTRAP_SERVERS=$(cat "$out/bootstrap")
export STREAMREC_REDIS_URL="redis://127.0.0.1:$redis_port/0"

# Default settings: no --config, no --set.
start=$(date +%s.%N)
"$bin" learn --catalog "$data" --catalog-format "$format" --stop-after-idle "$idle" \
  --stats-file "$out/stats.json" --status-interval 5 2>"$out/learn.log" &
learn_pid=$!
pids+=($learn_pid)
for _ in $(seq 300); do grep -q "partition(s) assigned" "$out/learn.log" 2>/dev/null && break; sleep 0.1; done
grep -q "partition(s) assigned" "$out/learn.log" || { echo "replay_acceptance: learner got no partitions ($out/learn.log)" >&2; exit 1; }

"$bin" produce --replay "$data" --format "$format" --no-items --rate 0 2>"$out/produce.log"
produced=$(date +%s.%N)

learn_rc=0
wait "$learn_pid" || learn_rc=$?
ended=$(date +%s.%N)
echo "replay_acceptance: produce took $(python3 -c "print(f'{$produced-$start:.1f}')") s; the learner ended by itself" \
  "$(python3 -c "print(f'{$ended-$produced:.1f}')") s later (${idle} s of it idle), exit status $learn_rc"
if grep -qi "LOST\|not durable" "$out/learn.log"; then
  echo "replay_acceptance: the learner reported lost messages or an undurable batch:" >&2
  grep -i "LOST\|not durable" "$out/learn.log" >&2
  exit 1
fi
[[ $learn_rc -eq 0 ]] || { echo "replay_acceptance: learn exited with $learn_rc ($out/learn.log)" >&2; exit 1; }

/usr/bin/python3 bench/replay_check.py --data "$data" --format "$format" --redis-port "$redis_port" --report "$out/report.json"
