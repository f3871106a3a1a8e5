#!/usr/bin/python3
"""The soak's verdict: what Redis, events.dlq and the samples hold against the
truth bench/soak/feed.py wrote. Prints one line per check and exits 1 when
any fails.

  --wait S   first wait up to S s for Redis to hold as many events as the truth
             (the learner catching up), then check
Checks:
  - counters: every user's and item's impressions, clicks and purchases in
    Redis equal the truth's, and Redis holds no counted event besides them
    (sum over every user key);
  - dead letters: every malformed message's tag is in events.dlq, with the
    reason the truth expects in its `error` header (dead-lettered twice after
    a crash is allowed and counted);
  - RSS: samples taken in the second half of the stream, leaving out those
    taken less than --warmup s after a learner started, have max <= 1.1 x mean
    and min >= 0.9 x mean;
  - freshness (reported, not judged): p50/p99/max of each learner process
    from its last stats file, and over the whole run from their histograms
    added up.
"""
import argparse
import glob
import json
import re
import sys
import time

import redis
from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING

results = []


def check(name, ok, detail):
    results.append({"check": name, "ok": bool(ok), "detail": detail})
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")


def read_counts(r, prefix, ids):
    out = {}
    ids = list(ids)
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        pipe = r.pipeline(transaction=False)
        for x in chunk:
            pipe.hmget(f"sr:{{{prefix}:{x}}}:f", "impressions", "clicks", "purchases")
        for x, got in zip(chunk, pipe.execute()):
            out[x] = [int(v or 0) for v in got]
    return out


def total_in_redis(r, truth):
    return sum(sum(c) for c in read_counts(r, "u", truth["users"]).values())


def check_counters(r, truth, wait_s, stall_s=60):
    """Waits while the learner catches up: until Redis holds every event, or
    nothing more arrived for `stall_s`, or `wait_s` passed."""
    start = time.time()
    total = total_in_redis(r, truth)
    progressed = start
    while total < truth["events"] and time.time() - start < wait_s and time.time() - progressed < stall_s:
        time.sleep(5)
        now = total_in_redis(r, truth)
        if now != total:
            progressed = time.time()
        total = now
    print(f"     Redis holds {total} of {truth['events']} events, {time.time() - start:.0f} s after the stream ended")
    if total < truth["events"]:
        print(f"     the learner had not caught up ({truth['events'] - total} events short): see the lag above and "
              "the offset resets below (the embedded broker trims what falls ~5 MiB per partition behind)")
    for side, prefix in (("users", "u"), ("items", "i")):
        stored = read_counts(r, prefix, truth[side])
        wrong = [(x, truth[side][x], stored[x]) for x in truth[side] if stored[x] != truth[side][x]]
        check(f"{side} counters exact", not wrong,
              f"{len(truth[side]) - len(wrong)} of {len(truth[side])} exact" +
              (f"; e.g. {wrong[:3]} (expected [impressions, clicks, purchases], got)" if wrong else ""))
    # Nothing counted beyond the truth: every user key's counters added up.
    counted = 0
    keys = 0
    pipe = r.pipeline(transaction=False)
    batch = []
    for key in r.scan_iter(match="sr:{u:*}:f", count=5000):
        batch.append(key)
        if len(batch) == 5000:
            for k in batch:
                pipe.hmget(k, "impressions", "clicks", "purchases")
            counted += sum(int(v or 0) for got in pipe.execute() for v in got)
            keys += len(batch)
            batch = []
    for k in batch:
        pipe.hmget(k, "impressions", "clicks", "purchases")
    counted += sum(int(v or 0) for got in pipe.execute() for v in got) if batch else 0
    keys += len(batch)
    check("no event counted beyond the truth", counted == truth["events"],
          f"{counted} counted over {keys} user keys, {truth['events']} sent")


def check_dead_letters(bootstrap, truth):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "soak-check", "enable.auto.commit": False,
                  "enable.partition.eof": True, "log_level": 3})
    low, high = c.get_watermark_offsets(TopicPartition("events.dlq", 0), timeout=30)
    c.assign([TopicPartition("events.dlq", 0, OFFSET_BEGINNING)])
    found = {}
    messages = 0
    tag = re.compile(rb"soakbad-[0-9a-f]+-\d+")
    while messages < high - low:
        m = c.poll(10)
        if m is None:
            break
        if m.error():
            if m.error().code() == -191:  # _PARTITION_EOF
                break
            continue
        messages += 1
        t = tag.search(m.value() or b"")
        if not t:
            continue
        error = ""
        for k, v in m.headers() or []:
            if k == "error":
                error = (v or b"").decode("utf-8", "replace")
        found.setdefault(t.group().decode(), []).append(error)
    c.close()
    expected = {tag: reason for tag, reason in truth["malformed"]}
    missing = [t for t in expected if t not in found]
    wrong_reason = [(t, expected[t], found[t][0]) for t in expected if t in found and expected[t] not in found[t][0]]
    twice = sum(1 for t in expected if len(found.get(t, [])) > 1)
    check("every malformed message in events.dlq", not missing and low == 0,
          f"{len(expected) - len(missing)} of {len(expected)} malformed messages found in {messages} dead letters"
          f" (offsets {low}-{high}; {twice} dead-lettered more than once)" +
          (f"; missing e.g. {missing[:3]}" if missing else "") +
          ("; the topic was trimmed (the embedded broker keeps ~5 MiB)" if low else ""))
    check("dead letters give the expected reason", not wrong_reason,
          f"{len(expected) - len(missing) - len(wrong_reason)} of {len(expected) - len(missing)}" +
          (f"; e.g. {wrong_reason[:3]} (tag, expected, error header)" if wrong_reason else ""))


def check_rss(samples_path, seconds, warmup, bound):
    rows = []
    for line in open(samples_path):
        t, learner, since_start, rss_kb = line.split()
        rows.append((float(t), int(learner), float(since_start), int(rss_kb)))
    half = [r for r in rows if seconds / 2 <= r[0] <= seconds]
    used = [r[3] / 1024 for r in half if r[2] >= warmup]
    if not used:
        check("RSS steady over the second half", False, f"no sample ({len(half)} in the second half, all within "
              f"{warmup} s of a learner's start)")
        return
    mean = sum(used) / len(used)
    lo, hi = min(used), max(used)
    check("RSS steady over the second half", hi <= (1 + bound) * mean and lo >= (1 - bound) * mean,
          f"mean {mean:.0f} MiB, min {lo:.0f} ({100 * (lo / mean - 1):+.1f}%), max {hi:.0f} ({100 * (hi / mean - 1):+.1f}%)"
          f" over {len(used)} samples (t {seconds / 2:.0f}-{seconds:.0f} s; {len(half) - len(used)} left out, taken "
          f"< {warmup:.0f} s after a learner start); all samples: min {min(r[3] for r in rows) / 1024:.0f}, "
          f"max {max(r[3] for r in rows) / 1024:.0f} MiB")


def quantile_from_buckets(le, count, q):
    """Upper bound and linear interpolation of the q-quantile from cumulative buckets."""
    rank = q * count
    prev_bound, prev_count = 0.0, 0
    for bound, cum in le:
        if cum >= rank:
            frac = (rank - prev_count) / (cum - prev_count) if cum > prev_count else 1
            return bound, prev_bound + frac * (bound - prev_bound)
        prev_bound, prev_count = bound, cum
    return float("inf"), float("inf")


def report_freshness(stats_glob):
    merged = {}
    count = 0
    per = []
    for path in sorted(glob.glob(stats_glob), key=lambda p: int(re.search(r"(\d+)\.json$", p).group(1))):
        try:
            f = json.load(open(path))["sink"]["freshness_ms"]
        except (OSError, ValueError, KeyError):
            continue
        per.append(f"{f['p50']:.0f}/{f['p99']:.0f}/{f['max']:.0f} ({f['count']})")
        count += f["count"]
        for bound, cum in f["le"].items():
            merged[float(bound)] = merged.get(float(bound), 0) + cum
    le = sorted(merged.items())
    if count:
        p50 = quantile_from_buckets(le, count, 0.5)
        p99 = quantile_from_buckets(le, count, 0.99)
        over = count - (le[-1][1] if le else 0)
        def show(q):
            return f"over {le[-1][0]:.0f} ms" if q[0] == float("inf") else f"~{q[1]:.0f} ms (<= {q[0]:.0f})"
        print(f"     freshness over the whole run ({count} rankings, histograms of every learner added): "
              f"p50 {show(p50)}, p99 {show(p99)}; {over} ({100 * over / count:.1f}%) over {le[-1][0]:.0f} ms")
    print(f"     freshness p50/p99/max ms (rankings) of each learner, in order: {'; '.join(per)}")
    return {"count": count, "per_learner": per}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--truth", required=True)
    p.add_argument("--redis-port", type=int, required=True)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--rss", required=True, help="samples: t learner since_start rss_kb, one a line")
    p.add_argument("--stats-glob", required=True)
    p.add_argument("--seconds", type=float, required=True, help="length of the stream")
    p.add_argument("--warmup", type=float, default=120)
    p.add_argument("--rss-bound", type=float, default=0.10)
    p.add_argument("--wait", type=float, default=0)
    p.add_argument("--report")
    args = p.parse_args()

    truth = json.load(open(args.truth))
    check("every message delivered to Kafka", truth["failed"] == 0 and truth["unsent_at_flush"] == 0,
          f"{truth['events']} events, {len(truth['malformed'])} malformed, {truth['duplicates']} duplicates sent "
          f"at {truth['rate']:.0f} events/s; {truth['failed']} failed, {truth['unsent_at_flush']} unsent")
    check_counters(redis.Redis(port=args.redis_port), truth, args.wait)
    check_dead_letters(args.bootstrap, truth)
    check_rss(args.rss, args.seconds, args.warmup, args.rss_bound)
    freshness = report_freshness(args.stats_glob)
    if args.report:
        json.dump({"checks": results, "freshness": freshness}, open(args.report, "w"), indent=2)
    sys.exit(0 if all(r["ok"] for r in results) else 1)


if __name__ == "__main__":
    main()
