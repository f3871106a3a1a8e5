#!/usr/bin/env python3
"""Prints Redis commands (RESP, for redis-cli --pipe) that leave what the
learner leaves for serve to read: rankings of 50 items for users u1..uN,
their rec_ts, item hashes and sr:available (1 in 20 off sale), sr:pop and
sr:model. The key
names are those of docs/redis-keys.md (feature_store/redis_keys.h)."""
import argparse
import random
import sys
import time


def resp(*args):
    out = [f"*{len(args)}\r\n"]
    for a in args:
        a = str(a)
        out.append(f"${len(a.encode())}\r\n{a}\r\n")
    return "".join(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--users", type=int, default=10000)
    p.add_argument("--items", type=int, default=2000)
    p.add_argument("--top-k", type=int, default=50)
    a = p.parse_args()
    rng = random.Random(1)
    now = int(time.time() * 1000)
    w = sys.stdout.write
    for i in range(a.items):
        w(resp("HSET", f"sr:{{i:i{i}}}:f", "available", "0" if i % 20 == 7 else "1", "category", f"c{i % 20}"))
    w(resp("HSET", "sr:available", *[x for i in range(a.items) for x in (f"i{i}", "0" if i % 20 == 7 else "1")]))
    w(resp("ZADD", "sr:pop", *[x for i in range(a.items) for x in (rng.random() * 30, f"i{i}")]))
    w(resp("HSET", "sr:model", "version", 1, "updated_ts", now))
    for u in range(1, a.users + 1):
        items = rng.sample(range(a.items), a.top_k)
        w(resp("ZADD", f"sr:{{u:u{u}}}:rec", *[x for rank, i in enumerate(items) for x in (1.0 - rank / 100, f"i{i}")]))
        w(resp("HSET", f"sr:{{u:u{u}}}:f", "rec_ts", now))


if __name__ == "__main__":
    main()
