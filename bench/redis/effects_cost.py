#!/usr/bin/env python3
"""Redis CPU per event of the exactly-once effects script (feature_store/idempotent_writer.cc).

Builds writes as the learner does for a uniform stream (10k users, 2000
items, one impression per event: user impressions + ts, item impressions,
sr:pop): WINDOW events summed per key, cut into slices of KEYS_PER_CALL keys,
sent one by one; prints the server's CPU (INFO cpu)
per event. FLUSHALLs the server: run it only against a throwaway redis-server.

Usage: effects_cost.py PORT KEYS_PER_CALL EVENTS WINDOW [SCRIPT_FILE]

WINDOW: events summed before one write (50 k events/s x 50 ms = 2500).
"""
import os, sys, random, re, time
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from ranking_writes import Conn, encode, server_cpu
src = open(os.path.join(here, "../../feature_store/idempotent_writer.cc")).read()
script = open(sys.argv[5]).read() if len(sys.argv) > 5 else re.search(r'R"lua\((.*?)\)lua"', src, re.S).group(1)
port, keys_per_call, events, window = (int(x) for x in sys.argv[1:5])
c = Conn(port)
c.call("FLUSHALL")
sha = c.call("SCRIPT", "LOAD", script).decode()
rng = random.Random(1)
mark = -1
slices = []
off = 0
while off < events:
    # One write: the effects of `window` events summed per key and field...
    keys = {}  # key -> {field: (op, amount)}
    end = min(events, off + window)
    for o in range(off, end):
        u, i = rng.randrange(10000), rng.randrange(2000)
        uk, ik = "sr:{u:u%d}:f" % u, "sr:{i:i%d}:f" % i
        for k in (uk, ik, "sr:pop"): keys.setdefault(k, {})
        keys[uk]["impressions"] = ("i", keys[uk].get("impressions", ("i", 0))[1] + 1)
        keys[uk]["ts"] = ("m", 1767225600000 + o * 10)
        keys[ik]["impressions"] = ("i", keys[ik].get("impressions", ("i", 0))[1] + 1)
        keys["sr:pop"]["i%d" % i] = ("l", 1000.5 + o * 1e-6)
    # ...in slices of keys_per_call keys (one mark update each).
    klist = list(keys)
    for first in range(0, len(klist), keys_per_call):
        part = klist[first:first + keys_per_call]
        last = end - 1 if first + keys_per_call >= len(klist) else mark + 1
        args = ["EVALSHA", sha, str(len(part) + 1), "sr:marks"] + part + ["1", "c/events/0", str(mark), str(last)]
        mark = last
        for k in part:
            f = keys[k]
            args.append(str(len(f)))
            for field, (op, amt) in f.items():
                args += [op, field, repr(amt) if op == "l" else str(int(amt))]
        slices.append(encode(args))
    off = end
c0 = server_cpu(c); t0 = time.time()
for blob in slices:
    c.sock.sendall(blob)
    c.reply()
c1 = server_cpu(c); t1 = time.time()
print("window %6d events, %d keys per call: %4d calls, %.2f us Redis CPU per event" % (
    window, keys_per_call, len(slices), (c1 - c0) / events * 1e6))
