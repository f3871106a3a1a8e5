#!/usr/bin/env python3
"""Watch a running `streamrec learn` for bench/pipeline.sh.

Until SIGTERM/SIGINT (or until the learner exits), it samples
  * the learner's stats file (written every status interval, ~5 s): events
    consumed, rankings written, freshness; at each new version it reads the
    high watermarks of the events topic with `kcat -Q` right away, so
    lag = (sum of watermarks) - (events-topic messages the learner consumed);
  * /proc/PID/stat every 0.5 s: the learner's CPU time; /proc/PID/status: VmHWM.
At the end it writes one JSON summary to --out.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import time

CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK  # utime + stime


def hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def partitions(bootstrap, topic):
    out = subprocess.run(["kcat", "-b", bootstrap, "-L", "-t", topic], capture_output=True, text=True,
                         timeout=10).stdout
    m = re.search(r'topic "%s" with (\d+) partitions' % re.escape(topic), out)
    return int(m.group(1)) if m else 0


def watermark_sum(bootstrap, topic, n):
    args = ["kcat", "-b", bootstrap, "-Q"]
    for p in range(n):
        args += ["-t", "%s:%d:-1" % (topic, p)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=10).stdout
    offsets = [int(x) for x in re.findall(r"offset (-?\d+)", out)]
    return sum(o for o in offsets if o > 0), len(offsets)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--stats-file", required=True)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", default="events")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    t0 = time.time()
    cpu = [(t0, cpu_seconds(args.pid))]
    hwm = 0
    samples = []  # t, consumed events-topic messages, watermark sum, rankings written
    nparts = 0
    last_mtime = None
    last_cpu = 0.0
    while not stop:
        now = time.time()
        try:
            if now - last_cpu >= 0.5:
                cpu.append((now, cpu_seconds(args.pid)))
                hwm = max(hwm, hwm_kib(args.pid))
                last_cpu = now
        except (FileNotFoundError, ProcessLookupError):
            break  # the learner exited
        try:
            mtime = os.stat(args.stats_file).st_mtime_ns
        except FileNotFoundError:
            mtime = None
        if mtime is not None and mtime != last_mtime:
            last_mtime = mtime
            if not nparts:
                nparts = partitions(args.bootstrap, args.topic)
            high, _ = watermark_sum(args.bootstrap, args.topic, nparts) if nparts else (0, 0)
            try:
                with open(args.stats_file) as f:
                    s = json.load(f)
            except (ValueError, FileNotFoundError):
                last_mtime = None
                continue
            c = s["consumer"]
            consumed = c["messages"] - c["items"]  # every events-topic message, good or not
            samples.append({"t": now - t0, "consumed": consumed, "high": high, "lag": max(0, high - consumed),
                            "rankings": s["sink"]["rankings_written"], "sink": s["sink"]})
        time.sleep(0.05)
    with open(args.out, "w") as f:
        json.dump({"start": t0, "cpu": cpu, "hwm_kib": hwm, "partitions": nparts, "samples": samples}, f)


if __name__ == "__main__":
    main()
