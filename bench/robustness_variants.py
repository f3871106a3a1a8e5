#!/usr/bin/env python3
"""Writes the held-out variations bench/robustness.sh evaluates on, from the
real samples of ../shared/data (never copied into the repository):

  <out>/rees46-users-{a,b}.csv      REES46, the users of one half (user id parity of a hash)
  <out>/taobao-users-{a,b}.csv      Taobao UserBehavior, the same
  <out>/rees46-once.ratings.csv     REES46 as MovieLens ratings.csv, only each user's first
                                    event with an item: nothing is ever re-consumed
  <out>/taobao-once.ratings.csv     the same from Taobao
  <out>/rees46.retailrocket.csv     REES46 as RetailRocket events.csv (view, addtocart,
                                    transaction; ms timestamps; no categories, brands, prices)
  <out>/rees46.item_properties.csv  its item file, as RetailRocket's: each item's category_id
                                    as `categoryid` (and a hashed property to skip), when first seen
  <out>/rees46-once.movies.csv      the once stream's item file, as MovieLens's movies.csv: the
                                    category code (or id) as the genres

  bench/robustness_variants.py DATA_DIR OUT_DIR
"""
import csv
import datetime
import os
import sys
import zlib

data, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
rees46 = os.path.join(data, "rees46-2019-oct-head.csv")
taobao = os.path.join(data, "taobao-userbehavior-2h.csv")


def half(user):
    return "ab"[zlib.crc32(user.encode()) % 2]


def rees46_rows():
    with open(rees46, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        rows = list(r)
    return header, rows


def rees46_seconds(text):
    return int(datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S UTC").replace(
        tzinfo=datetime.timezone.utc).timestamp())


header, rows = rees46_rows()
for h in "ab":
    with open(os.path.join(out, f"rees46-users-{h}.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(row for row in rows if half(row[7]) == h)

with open(taobao) as f:
    taobao_rows = [line.rstrip("\n").split(",") for line in f if line.strip()]
for h in "ab":
    with open(os.path.join(out, f"taobao-users-{h}.csv"), "w") as f:
        for row in taobao_rows:
            if half(row[0]) == h:
                f.write(",".join(row) + "\n")


def once(events, path):
    """events: (user, item, seconds) in time order; keeps each pair's first."""
    seen = set()
    with open(path, "w") as f:
        f.write("userId,movieId,rating,timestamp\n")
        for user, item, ts in events:
            if (user, item) in seen:
                continue
            seen.add((user, item))
            f.write(f"{user},{item},5.0,{ts}\n")


rees46_events = sorted(((row[7], row[2], rees46_seconds(row[0])) for row in rows if row[1] in ("view", "cart", "purchase")),
                       key=lambda e: e[2])
once(rees46_events, os.path.join(out, "rees46-once.ratings.csv"))
once(sorted(((row[0], row[1], int(row[4])) for row in taobao_rows), key=lambda e: e[2]),
     os.path.join(out, "taobao-once.ratings.csv"))

kinds = {"view": "view", "cart": "addtocart", "purchase": "transaction"}
with open(os.path.join(out, "rees46.retailrocket.csv"), "w") as f:
    f.write("timestamp,visitorid,event,itemid,transactionid\n")
    for n, row in enumerate(rows):
        if row[1] not in kinds:
            continue
        tx = str(n) if row[1] == "purchase" else ""
        f.write(f"{rees46_seconds(row[0]) * 1000},{row[7]},{kinds[row[1]]},{row[2]},{tx}\n")

# Each item described once, as first seen: its category as RetailRocket's
# item_properties.csv and as MovieLens's movies.csv say it.
with open(os.path.join(out, "rees46.item_properties.csv"), "w") as properties, \
        open(os.path.join(out, "rees46-once.movies.csv"), "w", newline="") as movies_file:
    properties.write("timestamp,itemid,property,value\n")
    movies = csv.writer(movies_file)
    movies.writerow(["movieId", "title", "genres"])
    described = set()
    for row in rows:
        if row[2] in described:
            continue
        described.add(row[2])
        ms = rees46_seconds(row[0]) * 1000
        properties.write(f"{ms},{row[2]},categoryid,{row[3]}\n")
        properties.write(f"{ms},{row[2]},888,n{len(row[2])}.000\n")
        movies.writerow([row[2], f"Product {row[2]}, as a film", (row[4] or row[3]).replace(".", "|")])
