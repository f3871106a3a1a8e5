#!/usr/bin/python3
"""The soak's stream, with its ground truth: produces a catalog to `items`, then
events to `events` at --rate events/s for --seconds, and writes what Redis
must hold once the learner applied every event exactly once.

The stream: requests of 5 impressions (one request_id each) for users drawn
uniformly and items drawn from a Zipf-like popularity; 5% of impressions get
a click 0.5-20 s later, 10% of clicks a purchase 1-60 s after that. Event
time is the wall clock when the event is sent. Mixed in, at known counts:
  - malformed messages, one every --bad-every events, rotating through the
    dead-letter reasons of docs/events.md; each carries a unique tag
    (soakbad-N) so that the check can find it in events.dlq;
  - duplicates: one event every --dup-every re-sent unchanged (same
    event_id) 0.2-2 s later, as a producer retry would; not counted.

The truth (--truth FILE, JSON) is counted here, from what was sent, by this
script's own reckoning (not streamrec's code): per user and per item the
impressions, clicks and purchases, the malformed tags with their expected
reason, and the number of duplicates. It is valid only if every message was
delivered: the producer waits for the brokers without a time limit
(message.timeout.ms=0, so a broker outage delays, never drops), and this
script exits 1 if any delivery failed. SIGTERM/SIGINT end the stream early
(then flush and write the truth, exit 0). Progress goes to --status FILE
every 5 s as JSON.
"""
import argparse
import heapq
import json
import os
import random
import signal
import sys
import time

from confluent_kafka import Producer

# kind -> (the reason docs/events.md gives, payload given a tag and a clock).
MALFORMED = [
    ("bad_json", lambda tag, ts: f'{{"event_id":"{tag}","type":"click",'),
    ("not_object", lambda tag, ts: f'["{tag}"]'),
    ("missing_field", lambda tag, ts: f'{{"event_id":"{tag}","type":"click","user_id":"u1","ts":{ts}}}'),
    ("wrong_type", lambda tag, ts: f'{{"event_id":"{tag}","type":"click","user_id":7,"item_id":"i1","ts":{ts}}}'),
    ("empty_id", lambda tag, ts: f'{{"event_id":"{tag}","type":"click","user_id":"","item_id":"i1","ts":{ts}}}'),
    ("id_too_long", lambda tag, ts: f'{{"event_id":"{tag}","type":"click","user_id":"{"u" * 200}","item_id":"i1","ts":{ts}}}'),
    ("unknown_event_type", lambda tag, ts: f'{{"event_id":"{tag}","type":"like","user_id":"u1","item_id":"i1","ts":{ts}}}'),
    ("negative_value", lambda tag, ts: f'{{"event_id":"{tag}","type":"purchase","user_id":"u1","item_id":"i1","ts":{ts},"value":-5}}'),
    ("negative_timestamp", lambda tag, ts: f'{{"event_id":"{tag}","type":"click","user_id":"u1","item_id":"i1","ts":-1}}'),
    ("future_timestamp", lambda tag, ts: f'{{"event_id":"{tag}","type":"click","user_id":"u1","item_id":"i1","ts":{ts + 86400000}}}'),
    ("value_out_of_range", lambda tag, ts: f'{{"event_id":"{tag}","type":"purchase","user_id":"u1","item_id":"i1","ts":{ts},"value":1e12}}'),
    ("too_long", lambda tag, ts: f'{{"event_id":"{tag}","type":"click","user_id":"u1","item_id":"i1","ts":{ts},"request_id":"{"r" * 200}"}}'),
    ("too_many_context_keys", lambda tag, ts: '{"event_id":"%s","type":"click","user_id":"u1","item_id":"i1","ts":%d,"context":{%s}}'
     % (tag, ts, ",".join(f'"k{k}":"v"' for k in range(40)))),
    ("too_deep", lambda tag, ts: f'{{"event_id":"{tag}","type":"click","user_id":"u1","item_id":"i1","ts":{ts},"x":' + "[" * 10 + "]" * 10 + "}"),
    ("not_utf8", lambda tag, ts: f'{{"event_id":"{tag}","type":"click","user_id":"u\xff","item_id":"i1","ts":{ts}}}'.encode("latin-1")),
]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--rate", type=float, default=30000)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--users", type=int, default=100000)
    p.add_argument("--items", type=int, default=10000)
    p.add_argument("--bad-every", type=int, default=10000)
    p.add_argument("--dup-every", type=int, default=5000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--truth", required=True)
    p.add_argument("--status", required=True)
    args = p.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    rng = random.Random(args.seed)
    failures = []

    def on_delivery(err, msg):
        if err is not None:
            failures.append(str(err))

    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "enable.idempotence": True,
        "message.timeout.ms": 0,  # wait out a broker outage, however long
        "linger.ms": 5,
        "batch.num.messages": 10000,
        "compression.type": "lz4",  # the embedded broker keeps ~5 MiB per partition: compressed, more events
        "queue.buffering.max.messages": 2000000,
        "queue.buffering.max.kbytes": 1048576,
        "log_level": 3,
    })

    def send(topic, key, value):
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=on_delivery)
                return
            except BufferError:  # the local queue is full (a long broker outage): wait for it
                producer.poll(0.1)

    # The catalog first, so that the learner knows every item before its events.
    categories = 50
    now_ms = int(time.time() * 1000)
    for i in range(args.items):
        send("items", f"i{i}", json.dumps({"item_id": f"i{i}", "category": f"c{i % categories}",
                                            "price": round(1 + (i * 7919 % 1000) / 10, 2), "available": True,
                                            "ts": now_ms}))
    producer.flush(60)

    # Zipf-like item popularity (s = 1), as a table to index uniformly.
    weights = [1.0 / (k + 1) for k in range(args.items)]
    total = sum(weights)
    table = []
    for k, w in enumerate(weights):
        table.extend([f"i{k}"] * max(1, round(w / total * 200000)))
    rng.shuffle(table)
    devices = ("ios", "android", "web")

    users = {}  # user -> [impressions, clicks, purchases]
    items = {}
    malformed = []  # [tag, expected reason]
    scheduled = []  # heap of (due, seq, kind, fields): clicks, purchases, duplicates
    seq = 0
    sent = events = duplicates = 0
    next_request = 0
    run = "%x" % (int(time.time()) & 0xFFFFFF)

    def count(user, item, slot):
        u = users.get(user)
        if u is None:
            u = users[user] = [0, 0, 0]
        u[slot] += 1
        i = items.get(item)
        if i is None:
            i = items[item] = [0, 0, 0]
        i[slot] += 1

    def emit_event(etype, user, item, req, extra, now):
        nonlocal sent, events, seq
        ts = int(now * 1000)
        eid = f"{run}-{events}"
        value = (f'{{"event_id":"{eid}","type":"{etype}","user_id":"{user}","item_id":"{item}","ts":{ts},'
                 f'"request_id":"{req}","context":{{"device":"{devices[hash(user) % 3]}","hour":{time.gmtime(now).tm_hour}}}{extra}}}')
        send("events", user, value)
        count(user, item, {"impression": 0, "click": 1, "purchase": 2}[etype])
        events += 1
        sent += 1
        if args.dup_every and events % args.dup_every == 0:
            seq += 1
            heapq.heappush(scheduled, (now + rng.uniform(0.2, 2.0), seq, "dup", (user, value)))
        if args.bad_every and sent % args.bad_every == 0:
            reason, make = MALFORMED[len(malformed) % len(MALFORMED)]
            tag = f"soakbad-{run}-{len(malformed)}"
            send("events", f"u{rng.randrange(args.users)}", make(tag, ts))
            malformed.append([tag, reason])
        return ts

    t0 = time.time()
    last_status = 0.0
    behind_resets = 0
    base = 0  # events already due before the last reset of the schedule
    t_base = t0
    while not stop:
        now = time.time()
        if now - t0 >= args.seconds:
            break
        due = base + int(args.rate * (now - t_base)) - sent
        if due > 2 * args.rate:  # more than 2 s behind (the machine was busy): start the schedule anew
            behind_resets += 1
            base, t_base, due = sent, now, 0
        budget = min(due, 5000)
        while budget > 0:
            while scheduled and scheduled[0][0] <= now and budget > 0:
                _, _, kind, fields = heapq.heappop(scheduled)
                if kind == "dup":
                    send("events", fields[0], fields[1])
                    duplicates += 1
                    continue
                user, item, req = fields
                if kind == "click":
                    emit_event("click", user, item, req, "", now)
                    if rng.random() < 0.10:
                        seq += 1
                        heapq.heappush(scheduled, (now + rng.uniform(1, 60), seq, "purchase", fields))
                else:
                    emit_event("purchase", user, item, req, f',"value":{rng.randint(5, 500)}', now)
                budget -= 1
            if budget <= 0:
                break
            user = f"u{rng.randrange(args.users)}"
            req = f"r{run}-{next_request}"
            next_request += 1
            shown = set()
            while len(shown) < 5:
                shown.add(table[rng.randrange(len(table))])
            for item in shown:
                emit_event("impression", user, item, req, "", now)
                if rng.random() < 0.05:
                    seq += 1
                    heapq.heappush(scheduled, (now + rng.uniform(0.5, 20), seq, "click", (user, item, req)))
            budget -= 5
        producer.poll(0)
        if now - last_status >= 5:
            last_status = now
            with open(args.status + ".tmp", "w") as f:
                json.dump({"t": now - t0, "events": events, "malformed": len(malformed), "duplicates": duplicates,
                           "queued": len(producer), "failed": len(failures), "behind_resets": behind_resets}, f)
            os.replace(args.status + ".tmp", args.status)
        if due <= 5000:
            time.sleep(0.005)

    seconds = time.time() - t0
    left = producer.flush(600)
    truth = {"events": events, "malformed": malformed, "duplicates": duplicates, "seconds": seconds,
             "rate": events / seconds if seconds else 0, "behind_resets": behind_resets,
             "unsent_at_flush": left, "failed": len(failures), "first_failure": failures[0] if failures else None,
             "users": users, "items": items}
    with open(args.truth + ".tmp", "w") as f:
        json.dump(truth, f)
    os.replace(args.truth + ".tmp", args.truth)
    print(f"feed: {events} events ({len(malformed)} malformed, {duplicates} duplicates) in {seconds:.1f} s, "
          f"{truth['rate']:.0f} events/s, {len(failures)} delivery failures, {left} unsent, "
          f"{behind_resets} schedule resets", file=sys.stderr)
    sys.exit(1 if failures or left else 0)


if __name__ == "__main__":
    main()
