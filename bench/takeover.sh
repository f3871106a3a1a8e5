#!/usr/bin/env bash
# How long a learner restarted after SIGKILL of its predecessor waits before
# it has its partitions back and writes again, on this machine: the embedded
# broker, a throwaway redis-server, `streamrec learn` consuming a synthetic
# stream; the learner is SIGKILLed and a new one started at once, --rounds
# times. For each round prints the seconds from the new learner's start to
# "partition(s) assigned" in its log and to the first event it consumed. Every process it starts is
# stopped on exit.
#
#   bench/takeover.sh [--rounds 3] [--build build] [--keep DIR] [--set key=value]...
#
#   --set   passed to every `streamrec learn` (e.g. --set consumer.session_timeout_ms=6000,
#           --set consumer.group_instance_id=learner-0)
#
# A new member of a consumer group is assigned its partitions only once the
# group coordinator has rebalanced, and with dynamic membership the killed
# member stays in the group until its session times out: the restart waits
# about consumer.session_timeout_ms. With static membership
# (consumer.group_instance_id) the restarted learner replaces its dead
# predecessor at once (docs/operations.md, "Restarts and takeover").
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
here="$root/bench"

rounds=3 build="$root/build" keep="" sets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift ;;
    --build) build="$2"; shift ;;
    --keep) keep="$2"; shift ;;
    --set) sets+=(--set "$2"); shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "takeover.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
bin="$build/apps/streamrec"
[[ -x "$bin" ]] || { echo "takeover.sh: $bin not found; build it: scripts/build.sh --target streamrec" >&2; exit 2; }
for tool in redis-server redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "takeover.sh: $tool not found" >&2; exit 2; }
done

if [[ -n "$keep" ]]; then mkdir -p "$keep"; dir="$(cd "$keep" && pwd)"; else dir="$(mktemp -d /tmp/takeover.XXXXXX)"; fi
pids=()
redis_pid=""
cleanup() {
  local pid
  for pid in "${pids[@]}" $redis_pid; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}" $redis_pid; do wait "$pid" 2>/dev/null || true; done
  [[ -n "$keep" ]] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
now() { date +%s.%N; }

source "$here/redis/start_redis.sh"
start_redis "$dir" || exit 1
rm -f "$dir/bootstrap"
"$bin" broker --address-file "$dir/bootstrap" >/dev/null 2>"$dir/broker.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s "$dir/bootstrap" ]] && break; sleep 0.1; done
[[ -s "$dir/bootstrap" ]] || { echo "takeover.sh: the broker did not start ($dir/broker.log)" >&2; exit 1; }
export STREAMREC_KAFKA_BOOTSTRAP_SERVERS="$(cat "$dir/bootstrap")"
export STREAMREC_REDIS_URL="redis://127.0.0.1:$redis_port/0"

# A stream that lasts the whole run: 2000 events/s.
"$bin" produce --synthetic --rate 2000 --impressions 100000000 >/dev/null 2>"$dir/produce.log" &
pids+=($!)
wait_for() {  # wait_for SECONDS COMMAND...: true once COMMAND succeeds
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@"; do [[ $(date +%s) -lt $deadline ]] || return 1; sleep 0.05; done
}
assigned() { grep -q "partition(s) assigned" "$1"; }
# The new learner's stats file counts an event consumed (status every 0.1 s).
consuming() { grep -Eq '"events": *[1-9]' "$1" 2>/dev/null; }

start_learner() {  # start_learner LOG: sets learn_pid; stats in LOG.json
  "$bin" learn "${sets[@]}" --status-interval 0.1 --stats-file "$1.json" 2>"$1" &
  learn_pid=$!; pids+=($learn_pid)
}

echo "# $(nproc) CPUs; learn ${sets[*]:-(defaults)}; seconds from the restarted learner's start"
echo "round assigned_s consuming_s"
start_learner "$dir/learn-0.log"
wait_for 120 assigned "$dir/learn-0.log" || { echo "takeover.sh: the first learner got no partitions" >&2; exit 1; }
wait_for 60 consuming "$dir/learn-0.log.json" || { echo "takeover.sh: the first learner consumed nothing" >&2; exit 1; }
for round in $(seq "$rounds"); do
  sleep 2
  kill -9 "$learn_pid"; wait "$learn_pid" 2>/dev/null || true
  log="$dir/learn-$round.log"
  t0=$(now)
  start_learner "$log"
  wait_for 300 assigned "$log" || { echo "takeover.sh: no assignment in 300 s ($log)" >&2; exit 1; }
  t_assigned=$(now)
  wait_for 300 consuming "$log.json" || { echo "takeover.sh: nothing consumed in 300 s ($log)" >&2; exit 1; }
  t_applying=$(now)
  python3 -c "print($round, '%.1f' % ($t_assigned - $t0), '%.1f' % ($t_applying - $t0))"
done
