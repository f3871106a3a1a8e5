#!/usr/bin/env bash
# The soak: the whole pipeline for --minutes at --rate events/s under faults,
# then every counter checked exactly. Starts a redis-server with its
# append-only file, the embedded broker (with --control, for its outage),
# `streamrec learn` with a checkpoint, and bench/soak/feed.py, a stream of
# impressions, clicks and purchases with its own ground truth, malformed
# messages and duplicate events mixed in at known counts. Meanwhile, at
# random times (--seed) in the middle 10-85% of the stream, scaled to its
# length (per hour; at least one of each):
#   10 SIGKILLs of the learner, each followed at once by a new learner
#      (same checkpoint file, as a supervisor would restart it);
#    3 Redis crashes (SIGKILL), Redis started again from its AOF after
#      --redis-down seconds;
#    1 outage of the whole Kafka cluster: every broker down for --outage
#      seconds, then up.
# It samples the learner's RSS (VmRSS) every 10 s across restarts. When the
# stream has ended it waits for Redis to hold every event (while it keeps
# growing, at most --drain seconds), stops the learner (SIGTERM: it must exit 0) and checks
# (bench/soak/check.py): every user and item counter in Redis equal to the
# truth and nothing counted beyond it; every malformed message in events.dlq
# with its reason; RSS over the second half of the stream within 10% of its
# mean, leaving out the samples taken less than --warmup seconds (120, or a
# tenth of a shorter stream) after a learner started (a restarted learner
# restores its checkpoint and catches up: its RSS is not at its level yet);
# and it prints
# freshness p50/p99. A learner that exits by itself (not killed here) fails
# the soak. Exit status 0 when every check passes, 1 otherwise, 2 on bad usage.
# Everything listens on 127.0.0.1; every process it starts is stopped on exit.
#
#   bench/soak.sh [--minutes 60] [--rate 30000] [--seed 1] [--build build] [--keep DIR]
#                 [--partitions 24] [--outage 20] [--redis-down 3] [--warmup S] [--drain 1800]
#                 [--users 100000] [--items 10000] [--set key=value]...
#
#   --partitions  of the events topic: the embedded broker keeps ~5 MiB per
#                 partition (compressed batches, ~40 bytes an event), and a
#                 restarted learner re-reads from its checkpoint (every 30 s):
#                 24 partitions hold ~100 s of the stream at 30k/s
#   --set         passed to every `streamrec learn`
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
here="$root/bench"

minutes=60 rate=30000 seed=1 build="$root/build" keep="" partitions=24 outage=20 redis_down=3 warmup=""
drain=1800 users=100000 items=10000 sets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --minutes) minutes="$2"; shift ;;
    --rate) rate="$2"; shift ;;
    --seed) seed="$2"; shift ;;
    --build) build="$2"; shift ;;
    --keep) keep="$2"; shift ;;
    --partitions) partitions="$2"; shift ;;
    --outage) outage="$2"; shift ;;
    --redis-down) redis_down="$2"; shift ;;
    --warmup) warmup="$2"; shift ;;
    --drain) drain="$2"; shift ;;
    --users) users="$2"; shift ;;
    --items) items="$2"; shift ;;
    --set) sets+=(--set "$2"); shift ;;
    -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
bin="$build/apps/streamrec"
py=/usr/bin/python3  # Debian's, with python3-redis and python3-confluent-kafka
[[ -x "$bin" ]] || { echo "soak.sh: $bin not found; build it: scripts/build.sh --target streamrec" >&2; exit 2; }
for tool in redis-server redis-cli $py; do
  command -v "$tool" >/dev/null || { echo "soak.sh: $tool not found" >&2; exit 2; }
done
$py -c 'import redis, confluent_kafka' 2>/dev/null || { echo "soak.sh: $py lacks redis or confluent_kafka" >&2; exit 2; }

if [[ -n "$keep" ]]; then mkdir -p "$keep"; dir="$(cd "$keep" && pwd)"; rm -rf "$dir"/*; else dir="$(mktemp -d /tmp/soak.XXXXXX)"; fi
seconds=$(( minutes * 60 ))
# 120 s, or a tenth of a shorter stream: a 3-minute run keeps some samples.
[[ -n "$warmup" ]] || warmup=$(( seconds / 10 < 120 ? seconds / 10 : 120 ))
pids=()
redis_pid="" learn_pid="" feed_pid=""
cleanup() {
  local pid
  for pid in $learn_pid $feed_pid "${pids[@]}" $redis_pid; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in $learn_pid $feed_pid "${pids[@]}" $redis_pid; do wait "$pid" 2>/dev/null || true; done
  [[ -n "$keep" ]] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { echo "soak: $(date -u +%H:%M:%S) +$(( $(date +%s) - ${t_feed:-$(date +%s)} ))s $*" | tee -a "$dir/soak.log" >&2; }

# Redis, with its append-only file (fsync every second), on a port kept across its restarts.
free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
redis_port=$(free_port)
mkdir -p "$dir/redis"
start_redis() {
  redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly yes --appendfsync everysec \
    --zset-max-listpack-entries 32 --dir "$dir/redis" --logfile "$dir/redis/redis.log" --daemonize no &
  redis_pid=$!
  for _ in $(seq 600); do
    [[ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" == PONG ]] && break
    kill -0 "$redis_pid" 2>/dev/null || break
    sleep 0.1
  done
  # The server answering must be ours (a port taken meanwhile would be somebody else's).
  [[ "$(redis-cli -p "$redis_port" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p')" == "$redis_pid" ]] ||
    { echo "soak.sh: redis-server did not start on $redis_port ($dir/redis/redis.log)" >&2; exit 1; }
}
start_redis

# The broker, 3 brokers, faults through the named pipe.
"$bin" broker --events-partitions "$partitions" --address-file "$dir/bootstrap" --control "$dir/broker.control" \
  >/dev/null 2>"$dir/broker.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s "$dir/bootstrap" ]] && break; sleep 0.1; done
[[ -s "$dir/bootstrap" ]] || { echo "soak.sh: the broker did not start ($dir/broker.log)" >&2; exit 1; }
bootstrap="$(cat "$dir/bootstrap")"
export STREAMREC_KAFKA_BOOTSTRAP_SERVERS="$bootstrap"
export STREAMREC_REDIS_URL="redis://127.0.0.1:$redis_port/0"
broker_control() {  # broker_control COMMAND: applied once the broker logs it
  local before; before=$(grep -c "control: $1:" "$dir/broker.log" || true)
  echo "$1" >"$dir/broker.control"
  for _ in $(seq 100); do
    if (( $(grep -c "control: $1:" "$dir/broker.log" || true) > before )); then break; fi
    sleep 0.05
  done
  grep "control: $1:" "$dir/broker.log" | tail -1 | grep -q ": done" || log "broker control '$1' failed: $(tail -1 "$dir/broker.log")"
}

# Learners: one at a time, numbered; each logs to learn-N.log and its stats to stats-N.json.
learners=0 unexpected_exits=0
start_learner() {
  learners=$(( learners + 1 ))
  "$bin" learn --checkpoint "$dir/learn.ckpt" --stats-file "$dir/stats-$learners.json" --status-interval 5 \
    --set consumer.session_timeout_ms=6000 "${sets[@]}" 2>"$dir/learn-$learners.log" &
  learn_pid=$!
  learn_started=$(date +%s)
}
start_learner
for _ in $(seq 300); do grep -q "partition(s) assigned" "$dir/learn-1.log" 2>/dev/null && break; sleep 0.1; done
grep -q "partition(s) assigned" "$dir/learn-1.log" || { echo "soak.sh: the learner got no partitions in 30 s ($dir/learn-1.log)" >&2; exit 1; }

# The fault schedule: times in seconds from the stream's start, at least 15 s apart.
schedule=$($py - "$seconds" "$seed" <<'PY'
import random, sys
seconds, seed = float(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
hours = seconds / 3600
faults = ["kill"] * max(1, round(10 * hours)) + ["redis"] * max(1, round(3 * hours)) + ["broker"] * max(1, round(hours))
for _ in range(1000):
    times = sorted(rng.uniform(0.10 * seconds, 0.85 * seconds) for _ in faults)
    if all(b - a >= 15 for a, b in zip(times, times[1:])):
        break
rng.shuffle(faults)
for t, f in zip(times, faults):
    print(int(t), f)
PY
)
echo "$schedule" >"$dir/schedule.txt"
log "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $minutes min at $rate events/s, $partitions partitions; faults (s: kind): $(echo $schedule | tr '\n' ' ')"

"$py" "$here/soak/feed.py" --bootstrap "$bootstrap" --rate "$rate" --seconds "$seconds" --seed "$seed" \
  --users "$users" --items "$items" --truth "$dir/truth.json" --status "$dir/feed-status.json" 2>"$dir/feed.log" &
feed_pid=$!
t_feed=$(date +%s)
: >"$dir/rss.tsv"
mapfile -t faults <<<"$schedule"
next_fault=0 broker_up_at=0 redis_start_at=0 next_sample=0
while kill -0 "$feed_pid" 2>/dev/null; do
  now=$(( $(date +%s) - t_feed ))
  if ! kill -0 "$learn_pid" 2>/dev/null; then
    rc=0; wait "$learn_pid" || rc=$?
    unexpected_exits=$(( unexpected_exits + 1 ))
    log "FAULT NOT OURS: learner $learners exited by itself with status $rc ($dir/learn-$learners.log); starting another"
    start_learner
  fi
  if (( next_fault < ${#faults[@]} )) && (( now >= ${faults[$next_fault]%% *} )); then
    kind=${faults[$next_fault]##* }
    next_fault=$(( next_fault + 1 ))
    case "$kind" in
      kill)
        log "SIGKILL learner $learners (pid $learn_pid, up $(( $(date +%s) - learn_started )) s, RSS $(awk '/VmRSS/ {print int($2/1024)}' /proc/$learn_pid/status 2>/dev/null) MiB); starting learner $(( learners + 1 ))"
        kill -9 "$learn_pid"; wait "$learn_pid" 2>/dev/null || true
        start_learner ;;
      redis)
        log "SIGKILL redis-server (pid $redis_pid); back in $redis_down s from its AOF"
        kill -9 "$redis_pid"; wait "$redis_pid" 2>/dev/null || true
        redis_pid=""
        redis_start_at=$(( now + redis_down )) ;;
      broker)
        log "every broker down for $outage s"
        for b in 1 2 3; do broker_control "down $b"; done
        broker_up_at=$(( now + outage )) ;;
    esac
  fi
  if (( redis_start_at > 0 && now >= redis_start_at )); then
    redis_start_at=0
    start_redis
    log "redis-server up again (pid $redis_pid), $(redis-cli -p "$redis_port" dbsize) keys"
  fi
  if (( broker_up_at > 0 && now >= broker_up_at )); then
    broker_up_at=0
    for b in 1 2 3; do broker_control "up $b"; done
    log "every broker up again"
  fi
  if (( now >= next_sample )); then
    next_sample=$(( now + 10 ))
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$learn_pid/status" 2>/dev/null || true)
    [[ -z "$rss" ]] || echo "$now $learners $(( $(date +%s) - learn_started )) $rss" >>"$dir/rss.tsv"
    lag=$(grep -o '"lag":[0-9]*' "$dir/stats-$learners.json" 2>/dev/null | head -1 | cut -d: -f2 || true)
    echo "$now $learners ${lag:-}" >>"$dir/lag.tsv"
    if (( now % 60 < 10 )); then
      log "learner $learners RSS $(( ${rss:-0} / 1024 )) MiB; feed $(cat "$dir/feed-status.json" 2>/dev/null)"
    fi
  fi
  sleep 1
done
rc=0; wait "$feed_pid" || rc=$?
feed_pid=""
log "stream ended: $(tail -1 "$dir/feed.log")"
(( rc == 0 )) || log "the feed failed (status $rc): the truth is not trustworthy"
# A fault still open at the end (not expected: faults end by 85%) is closed.
(( redis_start_at == 0 )) || start_redis
(( broker_up_at == 0 )) || for b in 1 2 3; do broker_control "up $b"; done

status=0
$py "$here/soak/check.py" --truth "$dir/truth.json" --redis-port "$redis_port" --bootstrap "$bootstrap" \
  --rss "$dir/rss.tsv" --stats-glob "$dir/stats-*.json" --seconds "$seconds" --warmup "$warmup" \
  --wait "$drain" --report "$dir/report.json" | tee -a "$dir/soak.log" || status=1
kill -TERM "$learn_pid" 2>/dev/null || true
rc=0; wait "$learn_pid" || rc=$?
learn_pid=""
if (( rc != 0 )); then log "FAIL the last learner did not stop cleanly on SIGTERM (status $rc)"; status=1; fi
if (( unexpected_exits > 0 )); then log "FAIL $unexpected_exits learner(s) exited by themselves"; status=1; fi
(( rc == 0 )) || true
log "largest consumer lag seen (every 10 s, from the stats): $(awk 'NF == 3 && $3 > m { m = $3; t = $1 } END { printf "%d events at +%d s", m, t }' "$dir/lag.tsv")"
log "faults done: $(grep -c 'SIGKILL learner' "$dir/soak.log") learner kills, $(grep -c 'SIGKILL redis' "$dir/soak.log") Redis crashes, $(grep -c 'every broker down' "$dir/soak.log") broker outages; $learners learners; offset resets (trimmed by the broker): $(cat "$dir"/learn-*.log | grep -c 'Offset out of range' || true); load $(cut -d' ' -f1-3 /proc/loadavg)"
(( status == 0 )) && log "PASS" || log "FAIL"
[[ -z "$keep" ]] || echo "soak: logs, samples and truth kept in $dir" >&2
exit $status
