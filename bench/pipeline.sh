#!/usr/bin/env bash
# The whole pipeline at a fixed event rate, on this machine: the embedded
# broker, a throwaway redis-server, `streamrec learn`, and
# `streamrec produce --synthetic --rate R` for S seconds while learn runs.
# Reports sustained events/s, consumer lag, freshness (Kafka timestamp ->
# ranking written) p50/p99/max, rankings written/s, and the learner's CPU and
# peak RSS (plus broker and Redis CPU), and how much of the time the model
# thread ran or waited for a CPU. Every process it starts is stopped on exit.
#
#   bench/pipeline.sh [--rate 50000] [--seconds 30] [--set key=value]... \
#                     [--build build-bench] [--profile N] [--keep DIR] [--idle S] [--files D]
#
#   --set       passed to `streamrec learn` (e.g. --set rankings.top_k=20)
#   --profile N take N gdb stack samples of the learner mid-run (each pauses
#               it ~0.5 s, so the lag figures of that run are not clean) and
#               print the most frequent frames
#   --perf S    record the learner with `perf record -e cpu-clock` for S
#               seconds mid-run and print the top symbols by self time
#   --keep DIR  keep logs, stats and samples in DIR
#   --idle S    the learner stops S seconds after the last message (default
#               2); a loaded machine may start the producer later than that
#   --files D   instead of the live synthetic stream, replay D/events.jsonl
#               at --rate (for --seconds at most) to a learner that loaded
#               D/items.jsonl with --catalog (`produce --synthetic --to-file
#               D`: e.g. a catalog of a million items)
#
# Lag is sampled when the learner rewrites its stats file (every ~5 s):
# sum of the events topic's high watermarks (kcat -Q) minus the events-topic
# messages the learner has consumed. The embedded broker keeps only ~5 MiB
# per partition: a learner that falls further behind loses events.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
here="$root/bench"

rate=50000 seconds=30 build="$root/build-bench" profile=0 perf_s=0 keep="" sets=() idle=2 files=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rate) rate="$2"; shift ;;
    --seconds) seconds="$2"; shift ;;
    --set) sets+=(--set "$2"); shift ;;
    --build) build="$2"; shift ;;
    --profile) profile="$2"; shift ;;
    --perf) perf_s="$2"; shift ;;
    --keep) keep="$2"; shift ;;
    --idle) idle="$2"; shift ;;
    --files) files="$2"; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "pipeline.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
bin="$build/apps/streamrec"
[[ -x "$bin" ]] || { echo "pipeline.sh: $bin not found; build it: cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build-bench streamrec" >&2; exit 2; }
for tool in redis-server redis-cli kcat python3; do
  command -v "$tool" >/dev/null || { echo "pipeline.sh: $tool not found" >&2; exit 2; }
done

if [[ -n "$keep" ]]; then mkdir -p "$keep"; dir="$(cd "$keep" && pwd)"; else dir="$(mktemp -d /tmp/pipeline.XXXXXX)"; fi
pids=()
redis_pid=""
cleanup() {
  local pid
  for pid in "${pids[@]}" $redis_pid; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}" $redis_pid; do wait "$pid" 2>/dev/null || true; done
  [[ -n "$keep" ]] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
now() { date +%s.%N; }
# The model thread's time on a CPU and waiting for one, in ns (schedstat):
# when the two add up to the whole window, it is what limits the learner.
model_schedstat() {
  local comm
  comm=$(grep -lx streamrec-model /proc/"$learn_pid"/task/*/comm 2>/dev/null | head -1)
  if [[ -n $comm ]]; then cut -d' ' -f1-2 "${comm%/comm}/schedstat"; else echo "0 0"; fi
}

# Redis.
source "$here/redis/start_redis.sh"
start_redis "$dir" || exit 1
# Rankings as skiplists, as docs/operations.md ("Redis") recommends.
redis-cli -p "$redis_port" CONFIG SET zset-max-listpack-entries 32 >/dev/null

# Broker.
rm -f "$dir/bootstrap" "$dir/stats.json"  # a kept directory may hold an earlier run's
"$bin" broker --address-file "$dir/bootstrap" >/dev/null 2>"$dir/broker.log" &
broker_pid=$!; pids+=($broker_pid)
for _ in $(seq 100); do [[ -s "$dir/bootstrap" ]] && break; sleep 0.1; done
[[ -s "$dir/bootstrap" ]] || { echo "pipeline.sh: the broker did not start ($dir/broker.log)" >&2; exit 1; }
bootstrap="$(cat "$dir/bootstrap")"
export STREAMREC_KAFKA_BOOTSTRAP_SERVERS="$bootstrap"
export STREAMREC_REDIS_URL="redis://127.0.0.1:$redis_port/0"

# Learner: it stops $idle s after the last message, once it has drained the topic.
catalog=()
[[ -z "$files" ]] || catalog=(--catalog "$files/items.jsonl")
"$bin" learn --set consumer.session_timeout_ms=6000 "${sets[@]}" "${catalog[@]}" --stats-file "$dir/stats.json" \
  --stop-after-idle "$idle" 2>"$dir/learn.log" &
learn_pid=$!; pids+=($learn_pid)
# Wait until it has its partitions (at most 15 s, plus a catalog's load), so the run starts with no lag.
for _ in $(seq 1500); do grep -q "partition(s) assigned" "$dir/learn.log" 2>/dev/null && break; sleep 0.1; done
grep -q "partition(s) assigned" "$dir/learn.log" || echo "pipeline.sh: the learner has no partitions yet; producing anyway" >&2

python3 "$here/pipeline/monitor.py" --pid "$learn_pid" --stats-file "$dir/stats.json" --bootstrap "$bootstrap" \
  --out "$dir/monitor.json" &
monitor_pid=$!; pids+=($monitor_pid)

# Producer: a stream longer than needed, interrupted after --seconds.
t_start=$(now); c0_learn=$(cpu_ticks $learn_pid); c0_broker=$(cpu_ticks $broker_pid); c0_redis=$(cpu_ticks $redis_pid)
model0=$(model_schedstat)
if [[ -n "$files" ]]; then
  "$bin" produce --replay "$files/events.jsonl" --rate "$rate" >/dev/null 2>"$dir/produce.log" &
else
  "$bin" produce --synthetic --rate "$rate" --impressions "$(python3 -c "print(int($rate * $seconds) + 1)")" \
    >/dev/null 2>"$dir/produce.log" &
fi
produce_pid=$!; pids+=($produce_pid)
if [[ $perf_s -gt 0 ]]; then
  sleep "$(python3 -c "print($seconds / 3)")"
  perf record -e cpu-clock -F 499 -p "$learn_pid" -o "$dir/perf.data" -- sleep "$perf_s" >/dev/null 2>"$dir/perf.log" || true
fi
if [[ $profile -gt 0 ]]; then
  [[ $perf_s -gt 0 ]] || sleep "$(python3 -c "print($seconds / 3)")"
  for _ in $(seq "$profile"); do
    timeout 20 gdb -p "$learn_pid" -batch -ex 'thread apply all bt' >>"$dir/gdb.txt" 2>/dev/null || true
    echo "=== sample end" >>"$dir/gdb.txt"
    sleep 0.3
  done
fi
# Polled with bash's own clock: a process per poll would take CPU from the run.
produce_until_us=$(python3 -c "print(int(($t_start + $seconds) * 1e6))")
while kill -0 "$produce_pid" 2>/dev/null && (( ${EPOCHREALTIME/./} < produce_until_us )); do sleep 0.2; done
c1_produce=$(cpu_ticks $produce_pid)
kill -INT "$produce_pid" 2>/dev/null || true
wait "$produce_pid" || true
t_produced=$(now); c1_learn=$(cpu_ticks $learn_pid); c1_broker=$(cpu_ticks $broker_pid); c1_redis=$(cpu_ticks $redis_pid)
model1=$(model_schedstat)
hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$learn_pid/status")

# Drain: the learner exits on its own once idle; give it at most idle + 18 s.
drained=1
for _ in $(seq $(( (${idle%.*} + 18) * 10 ))); do kill -0 "$learn_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$learn_pid" 2>/dev/null; then
  drained=0
  hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$learn_pid/status")
  kill -INT "$learn_pid"
fi
wait "$learn_pid" || true
t_learned=$(now)
redis-cli -p "$redis_port" INFO commandstats >"$dir/commandstats.txt" 2>/dev/null || true
kill "$monitor_pid" 2>/dev/null || true; wait "$monitor_pid" || true

python3 - "$dir" "$rate" "$seconds" "$t_start" "$t_produced" "$t_learned" "$idle" "$drained" "$hwm" \
  "$c0_learn" "$c1_learn" "$c0_broker" "$c1_broker" "$c0_redis" "$c1_redis" "$(getconf CLK_TCK)" "$c1_produce" \
  "$model0" "$model1" <<'PY'
import json, re, sys
d, rate, seconds, t0, t1, t2, idle, drained, hwm = sys.argv[1:10]
c = [float(x) for x in sys.argv[10:16]]; tck = float(sys.argv[16]); produce_ticks = float(sys.argv[17])
model = [[float(x) for x in a.split()] for a in sys.argv[18:20]]  # (run ns, run-queue wait ns) at t0, t1
t0, t1, t2, idle = float(t0), float(t1), float(t2), float(idle)
prod = open(d + "/produce.log").read()
m = re.search(r"produce: (\d+) events .* in ([\d.]+) s", prod)
produced, psec = (int(m.group(1)), float(m.group(2))) if m else (0, t1 - t0)
stats = json.load(open(d + "/stats.json"))
mon = json.load(open(d + "/monitor.json"))
consumed = stats["consumer"]["messages"] - stats["consumer"]["items"]
sink = stats["sink"]; f = sink["freshness_ms"]
window = t1 - t0
# Throughput while producing: slope of the learner's consumed count over the
# stats samples taken during the production window.
ss = [s for s in mon["samples"] if s["t"] <= t1 - mon["start"] + 0.5 and s["consumed"] > 0]
if len(ss) >= 2:
    dt = ss[-1]["t"] - ss[0]["t"]
    slope = (ss[-1]["consumed"] - ss[0]["consumed"]) / dt
    rk_slope = (ss[-1]["rankings"] - ss[0]["rankings"]) / dt
else:
    slope = rk_slope = float("nan")
max_lag = max([s["lag"] for s in mon["samples"]] or [0])
busy = (t2 - idle if drained == "1" else t2) - t0   # producer start -> last message
resets = open(d + "/learn.log").read().count("Offset out of range")
missed = max(0, produced - consumed)
if drained == "1" and missed == 0:
    drain_text = "%.1f s" % max(0.0, busy - window)
elif drained == "1":
    drain_text = "NO: %d of %d events never consumed (%d offset resets: the broker trimmed them)" % (missed, produced, resets)
else:
    drain_text = "NO: %d events still behind 20 s after the producer stopped (%d offset resets)" % (missed, resets)
rows = [
    ("offered (producer)", "%.0f events/s (%d events in %.1f s)" % (produced / psec if psec else 0, produced, psec)),
    ("consumed while producing", "%.0f events/s (stats-file slope)" % slope),
    ("consumed in all", "%d events in %.1f s from first produce to last consumed (%.0f /s)" % (consumed, busy, consumed / busy)),
    ("drained after producer stop", drain_text),
    ("max consumer lag", "%d events (%.2f s at the offered rate; %d stats samples)" % (max_lag, max_lag / float(rate), len(mon["samples"]))),
    ("freshness p50 / p99 / max", "%.0f / %.0f / %.0f ms (%d ranking writes)" % (f["p50"], f["p99"], f["max"], f["count"])),
    ("rankings written", "%.0f /s while producing; %d in all" % (rk_slope, sink["rankings_written"])),
    ("samples learned", "%d" % sink["samples_learned"]),
    ("learner CPU", "%.0f%% of one core while producing" % (100 * (c[1] - c[0]) / tck / window)),
    ("model thread", "runs %.0f%%, waits for a CPU %.0f%% of the time while producing (near 100%% together: the limit)"
     % (100 * (model[1][0] - model[0][0]) / 1e9 / window, 100 * (model[1][1] - model[0][1]) / 1e9 / window)),
    ("learner peak RSS (VmHWM)", "%.0f MiB" % (int(hwm) / 1024)),
    ("broker / redis / producer CPU", "%.0f%% / %.0f%% / %.0f%%" % (100 * (c[3] - c[2]) / tck / window,
                                   100 * (c[5] - c[4]) / tck / window, 100 * produce_ticks / tck / window)),
    ("machine load average", open("/proc/loadavg").read().split()[0] + " (1 min, at the end of the run)"),
]
import os
print("pipeline: --rate %s for %s s on %d CPUs" % (rate, seconds, os.cpu_count()))
for k, v in rows:
    print("  %-30s %s" % (k, v))
# Where Redis spent its time, over the whole run (server-side µs).
cmds = []
for line in open(d + "/commandstats.txt"):
    m = re.match(r"cmdstat_(\w+):calls=(\d+),usec=(\d+),", line.strip())
    if m: cmds.append((int(m.group(3)), m.group(1), int(m.group(2))))
cmds.sort(reverse=True)
if cmds and consumed:
    print("  %-30s %s" % ("redis time per event consumed", ", ".join(
        "%s %.2f us (%d calls)" % (name, usec / consumed, calls) for usec, name, calls in cmds[:6])))
PY

if [[ $profile -gt 0 && -s "$dir/gdb.txt" ]]; then
  echo "gdb samples: most frequent streamrec frames (innermost function per thread stack, then any frame)"
  python3 "$here/pipeline/gdb_top.py" "$dir/gdb.txt"
fi
if [[ $perf_s -gt 0 && -s "$dir/perf.data" ]]; then
  echo "perf (cpu-clock, ${perf_s} s mid-run): learner self time by symbol, all threads"
  perf report -i "$dir/perf.data" --stdio --no-children --sort comm,dso,sym 2>/dev/null |
    grep -v "^#" | grep -v "^$" | head -30 | cut -c1-170
fi
[[ -z "$keep" ]] || echo "logs and samples kept in $dir"
