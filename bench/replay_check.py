#!/usr/bin/python3
"""Holds what `streamrec learn` left in Redis against the behaviour log it replayed.

Reads the file with its own parser (not streamrec's adapters) and Redis with
redis-py, and checks, for bench/replay_acceptance.sh:
  - every item of the file has its hash, with the file's category (taobao);
  - every user's and every item's click and purchase counters equal the file's;
  - every user who clicked something has a non-empty ranking.
Prints one line per check and exits 1 when any fails; --report writes them as JSON.
"""
import argparse
import collections
import csv
import json
import sys

import redis

# Behaviour -> the event streamrec makes of it (docs/datasets.md, "Behaviours -> events").
BEHAVIOURS = {
    "taobao": {"pv": "click", "cart": "click", "fav": "click", "buy": "purchase"},
    "rees46": {"view": "click", "cart": "click", "purchase": "purchase", "remove_from_cart": None},
}


def read_log(path, fmt):
    """(user, item, event, category) for every row, in file order."""
    with open(path, newline="") as f:
        rows = csv.reader(f)
        if fmt == "rees46":
            next(rows)
        for row in rows:
            if fmt == "taobao":
                user, item, category, behaviour, _ = row
            else:
                _, behaviour, item, category_id, category_code, _, _, user, _ = row
                category = category_code or category_id
            yield user, item, BEHAVIOURS[fmt][behaviour], category


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--format", required=True, choices=sorted(BEHAVIOURS))
    parser.add_argument("--redis-port", type=int, required=True)
    parser.add_argument("--report")
    args = parser.parse_args()

    counts = {"user": collections.defaultdict(collections.Counter), "item": collections.defaultdict(collections.Counter)}
    category = {}
    for user, item, event, item_category in read_log(args.data, args.format):
        category[item] = item_category  # the latest row's, as the adapter keeps it (the file is in time order)
        if event:
            counts["user"][user][event] += 1
            counts["item"][item][event] += 1

    r = redis.Redis(port=args.redis_port, decode_responses=True)
    checks = []

    def check(name, bad, total, example):
        checks.append({"check": name, "failed": bad, "of": total, "example": example})
        print(f"{'ok  ' if bad == 0 else 'FAIL'} {name}: {total - bad:,} of {total:,}" + (f" (e.g. {example})" if bad else ""))

    def hashes(keys, fields):
        pipe = r.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(key, fields)
        return pipe.execute()

    items = sorted(category)
    stored = hashes([f"sr:{{i:{i}}}:f" for i in items], ["category", "clicks", "purchases"])
    missing = [i for i, s in zip(items, stored) if s[0] is None]
    check("items in Redis with the file's category", len(missing) + sum(
        1 for i, s in zip(items, stored) if s[0] is not None and args.format == "taobao" and s[0] != category[i]),
        len(items), missing[:3])

    for side, keys in (("user", lambda u: f"sr:{{u:{u}}}:f"), ("item", lambda i: f"sr:{{i:{i}}}:f")):
        ids = sorted(counts[side])
        stored = hashes([keys(x) for x in ids], ["clicks", "purchases"])
        for n, event in enumerate(("click", "purchase")):
            wrong = [(x, counts[side][x][event], s[n]) for x, s in zip(ids, stored)
                     if int(s[n] or 0) != counts[side][x][event]]
            check(f"{side} {event} counters exact", len(wrong), len(ids), wrong[:3])

    clickers = sorted(u for u, c in counts["user"].items() if c["click"])
    pipe = r.pipeline(transaction=False)
    for user in clickers:
        pipe.zcard(f"sr:{{u:{user}}}:rec")
    unranked = [u for u, n in zip(clickers, pipe.execute()) if n == 0]
    check("users who clicked something ranked", len(unranked), len(clickers), unranked[:3])

    if args.report:
        with open(args.report, "w") as f:
            json.dump(checks, f, indent=2)
    sys.exit(0 if all(c["failed"] == 0 for c in checks) else 1)


if __name__ == "__main__":
    main()
