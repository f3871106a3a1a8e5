#!/usr/bin/env bash
# The main job, locally: installs what is missing, builds, starts a local
# redis-server and the embedded Kafka broker on free ports, produces a bounded
# synthetic stream while `streamrec learn` consumes it into Redis and
# `streamrec serve` answers HTTP (its dashboard at /), prints a summary and
# how to read what was written, then stops everything it started.
#
#   scripts/run-local.sh                 # bounded run, then stop
#   scripts/run-local.sh --keep-running  # keep broker, Redis, learner and serve (dashboard) up until Ctrl-C
#   scripts/run-local.sh --impressions 500000
set -euo pipefail
cd "$(dirname "$0")/.."

keep_running=0
impressions=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --keep-running) keep_running=1 ;;
    --impressions) impressions="$2"; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "run-local: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

scripts/bootstrap.sh
scripts/build.sh --target streamrec
bin=build/apps/streamrec
run=.run
mkdir -p "$run"
rm -f "$run"/*.log "$run"/stats.json "$run"/bootstrap "$run"/serve.url

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

redis_port=$(free_port)
# zset-max-listpack-entries: rankings as skiplists (docs/operations.md, "Redis").
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --zset-max-listpack-entries 32 \
  --logfile "$PWD/$run/redis.log" &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$redis_port" ping >/dev/null || { echo "run-local: redis-server did not start ($run/redis.log)" >&2; exit 1; }

"$bin" broker --address-file "$run/bootstrap" >/dev/null 2>"$run/broker.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s "$run/bootstrap" ]] && break; sleep 0.1; done
[[ -s "$run/bootstrap" ]] || { echo "run-local: broker did not start ($run/broker.log)" >&2; exit 1; }

export STREAMREC_KAFKA_BOOTSTRAP_SERVERS=$(cat "$run/bootstrap")
export STREAMREC_REDIS_URL="redis://127.0.0.1:$redis_port/0"
echo "run-local: Kafka (embedded) at $STREAMREC_KAFKA_BOOTSTRAP_SERVERS, Redis at $STREAMREC_REDIS_URL"

# Every status report is also a sample of the dashboard's plots (sr:stats).
learn_args=(learn --config configs/local.yaml --stats-file "$run/stats.json" --status-interval 2)
[[ $keep_running -eq 1 ]] || learn_args+=(--stop-after-idle 5)
"$bin" "${learn_args[@]}" 2>"$run/learn.log" &
learn_pid=$!
pids+=($learn_pid)

# The HTTP API and the dashboard, on a free port.
"$bin" serve --config configs/local.yaml --set serving.port=0 >"$run/serve.url" 2>"$run/serve.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s "$run/serve.url" ]] && break; sleep 0.1; done
serve_url=$(head -1 "$run/serve.url" 2>/dev/null || true)
[[ -n "$serve_url" ]] || { echo "run-local: streamrec serve did not start ($run/serve.log)" >&2; exit 1; }
echo "run-local: dashboard at $serve_url/ (HTTP API: docs/serving.md)"

# The embedded broker keeps only ~5 MiB per partition, so the learner
# consumes while the producer produces; it starts once the learner has its
# partitions (joining the group takes a few seconds), so that the report's
# freshness is the pipeline's, not the wait for the group.
for _ in $(seq 150); do grep -q "partition(s) assigned" "$run/learn.log" 2>/dev/null && break; sleep 0.1; done
produce_args=(produce --synthetic --config configs/local.yaml)
[[ -n "$impressions" ]] && produce_args+=(--impressions "$impressions")
start=$(date +%s.%N)
"$bin" "${produce_args[@]}"

if [[ $keep_running -eq 0 ]]; then
  wait "$learn_pid" || { echo "run-local: learn failed, see $run/learn.log" >&2; tail -5 "$run/learn.log" >&2; exit 1; }
fi
elapsed=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")

r() { redis-cli -p "$redis_port" "$@"; }
# A user with a ranking and clicks, and an item of the catalog with clicks
# (the first of each that the scan finds; the first key when none has).
# Reads keys on stdin; $1 is the suffix to replace by :f for the hash.
first_with_clicks() {
  local first="" key
  while read -r key; do
    [[ -z "$first" ]] && first=$key
    [[ -n "$(r hget "${key%"$1"}:f" clicks)" ]] && { echo "$key"; return; }
  done
  echo "$first"
}
rec_key=$(r --scan --pattern 'sr:{u:*}:rec' | head -200 | first_with_clicks ':rec' || true)
user=${rec_key#sr:\{u:}; user=${user%\}:rec}
item_key=$(r --scan --pattern 'sr:{i:*}:f' | grep -v ':f:m$' | head -200 | first_with_clicks ':f' || true)
fields() { local key=$1; shift; for f in "$@"; do printf '             %-12s %s\n' "$f" "$(r hget "$key" "$f")"; done; }
# The generator's truth for the same stream (same settings, same seed), and
# the same stream through `streamrec train` (offline, same settings, a
# second or two): its report puts the model beside the oracle and a per-item
# counter that knows each impression's labels at once (a yardstick no online
# learner can reach early on), over the whole stream and over its last 20%
# of impressions (an online learner's first minutes are its cold start).
truth_args=(produce --synthetic --config configs/local.yaml --to-file "$run/stream")
[[ -n "$impressions" ]] && truth_args+=(--impressions "$impressions")
"$bin" "${truth_args[@]}" >/dev/null 2>&1 || true
"$bin" train --config configs/local.yaml --events "$run/stream/events.jsonl" --items "$run/stream/items.jsonl" \
  --truth "$run/stream/truth.csv" --at-once-baseline --report-json "$run/train.json" >"$run/train.log" 2>&1 || true
report=$(python3 - "$run/stats.json" "$run/train.json" "$elapsed" <<'PY'
import json, sys
def load(path):
    try: return json.load(open(path))
    except (OSError, ValueError): return {}
stats, train = load(sys.argv[1]), load(sys.argv[2])
consumer, sink = stats.get("consumer", {}), stats.get("sink", {})
metrics = train.get("metrics", {})
one = lambda v: "n/a" if v is None or v != v else f"{v:.3f}"
def cell(series, field="auc"):
    m = metrics.get(series, {})
    return f"{one(m.get('whole', {}).get(field))} ({one(m.get('last_20pct', {}).get(field))})".ljust(17)
f = sink.get("freshness_ms", {})
print(f"events         : {consumer.get('events', 0)} in {sys.argv[3]} s "
      f"({consumer.get('events', 0) / max(float(sys.argv[3]), 1e-9):,.0f} events/s, waits included); "
      f"{consumer.get('dead_letters', 0)} dead-lettered")
print(f"learned        : {sink.get('samples_learned', 0)} samples; {sink.get('rankings_written', 0)} rankings written; "
      f"progressive AUC click {one(sink.get('auc_click'))}, CTCVR {one(sink.get('auc_ctcvr'))}")
print(f"freshness      : p50 {f.get('p50', 0):.0f} ms, p99 {f.get('p99', 0):.0f} ms (Kafka timestamp -> ranking in Redis)")
print("accuracy       : the same stream through `streamrec train`, whole stream (last 20% of impressions)")
print("                 model            per-item counter, labels at once   oracle (true probabilities)")
print(f"click AUC      : {cell('click')}{cell('baseline_click_at_once')}{' ' * 18}{cell('oracle_click')}")
print(f"CTCVR AUC      : {cell('ctcvr')}{cell('baseline_ctcvr_at_once')}{' ' * 18}{cell('oracle_ctcvr')}")
print(f"calibration    : {cell('click', 'calibration')}{' ' * 35}{cell('oracle_click', 'calibration')}  (click: mean prediction / mean label)")
print(f"                 {cell('ctcvr', 'calibration')}{' ' * 35}{cell('oracle_ctcvr', 'calibration')}  (CTCVR)")
ctcvr_calibration = metrics.get("ctcvr", {}).get("whole", {}).get("calibration")
if ctcvr_calibration is not None and ctcvr_calibration < 0.9:
    print("                 (CTCVR low: purchases come minutes to a day after their click, and a learner that started\n"
          "                 hours ago has seen only the early ones; over a stream longer than a day it is within\n"
          "                 10%: docs/model.md, \"Against the PyTorch peer\", and docs/performance.md)")
PY
)

cat <<SUMMARY

== streamrec local run ==
$report
Redis          : $(r dbsize) keys in db 0 (docs/redis-keys.md); full stats in $run/stats.json

one user   $ redis-cli -p $redis_port HGETALL 'sr:{u:$user}:f'     # emb: float32 bytes
$(fields "sr:{u:$user}:f" impressions clicks purchases recent ts)
its ranking $ redis-cli -p $redis_port ZREVRANGE '$rec_key' 0 4 WITHSCORES
$(r zrevrange "$rec_key" 0 4 withscores | paste - - | sed 's/^/             /')
one item   $ redis-cli -p $redis_port HGETALL '$item_key'
$(fields "$item_key" category price available impressions clicks purchases)
top items  $ redis-cli -p $redis_port ZREVRANGE sr:pop 0 4 WITHSCORES
$(r zrevrange sr:pop 0 4 withscores | paste - - | sed 's/^/             /')
model      $ redis-cli -p $redis_port HGETALL sr:model
$(r hgetall sr:model | paste - - | sed 's/^/             /')
over HTTP  $ curl -s '$serve_url/v1/users/$user/recommendations?k=5'
dashboard    $serve_url/?user=$user

Logs: $run/*.log.
SUMMARY

[[ $keep_running -eq 1 ]] || echo "(This Redis stops with the run; scripts/run-local.sh --keep-running keeps it up for the commands above.)"

if [[ $keep_running -eq 1 ]]; then
  echo "Running: broker, Redis, learner and serve stay up. The dashboard: $serve_url/?user=$user"
  echo "Produce more with"
  echo "  STREAMREC_KAFKA_BOOTSTRAP_SERVERS=$STREAMREC_KAFKA_BOOTSTRAP_SERVERS $bin produce --synthetic --config configs/local.yaml"
  echo "Ctrl-C stops everything."
  wait "$learn_pid"
fi
