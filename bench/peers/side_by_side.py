#!/usr/bin/env python3
"""One table of learners on one synthetic stream, for bench/learner_vs_torch.sh.

Every learner is judged on the same impressions against their final labels
(truth.csv's clicked / purchased: whenever the click or purchase came), with
the predictions it made when the impression was shown:
  streamrec        `streamrec train --predictions-out` (CSV by event_id)
  peer at-once     bench/peers/torch_esmm.py --labels at-once (npy, stream order)
  peer fake-negative  bench/peers/torch_esmm.py --labels fake-negative
                   (streamrec's default feedback: the same delays)
  peer windowed    bench/peers/torch_esmm.py --labels windowed
  counter          per-item smoothed click and purchase rates, labels known
                   at once (computed here: each impression is scored with the
                   counts of the impressions before it)
  oracle           the true probabilities (truth.csv)
Columns: AUC over the whole stream and over its last 20 % (click and CTCVR),
calibration (mean prediction / mean label, last 20 %) and samples/s of the
learn loop (scoring + learning, one thread), by the wall clock and per
second of the thread's CPU time (what a shared machine inflates least).
"""
import argparse
import csv
import json

import numpy as np

PRIOR = 20.0  # the counter's smoothing: an item starts as PRIOR impressions at the running global rate


def auc(score, label):
    order = np.argsort(score, kind="mergesort")
    s, y = score[order], label[order]
    # Average ranks of tied scores.
    starts = np.r_[0, np.flatnonzero(np.diff(s)) + 1]
    ends = np.r_[starts[1:], len(s)]
    ranks = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    pos = y.sum()
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def counter(keys, y):
    """Per-key smoothed rate of y, each row scored before its own label counts."""
    n = len(y)
    order = np.argsort(keys, kind="stable")
    k, v = keys[order], y[order].astype(np.float64)
    csum = np.cumsum(v)
    cnt = np.arange(1, n + 1, dtype=np.float64)
    starts = np.r_[0, np.flatnonzero(np.diff(k)) + 1]
    group_start = np.repeat(starts, np.diff(np.r_[starts, n]))
    before_sum = csum - v - np.where(group_start > 0, csum[group_start - 1], 0.0)
    before_cnt = cnt - 1 - group_start
    item_sum, item_cnt = np.empty(n), np.empty(n)
    item_sum[order], item_cnt[order] = before_sum, before_cnt
    yy = y.astype(np.float64)
    global_rate = (np.cumsum(yy) - yy + 0.5) / (np.arange(n) + 10.0)  # running, before this row
    return (item_sum + PRIOR * global_rate) / (item_cnt + PRIOR)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--truth", required=True)
    ap.add_argument("--events", required=True)
    ap.add_argument("--streamrec-predictions", required=True)
    ap.add_argument("--streamrec-report", required=True)
    ap.add_argument("--peer", nargs=3, action="append", metavar=("NAME", "NPY", "REPORT"), default=[])
    ap.add_argument("--markdown-out")
    a = ap.parse_args()

    ids, p_click, p_ctcvr, clicked, bought = [], [], [], [], []
    with open(a.truth) as f:
        for r in csv.DictReader(f):
            ids.append(r["event_id"])
            p_click.append(float(r["p_click"]))
            p_ctcvr.append(float(r["p_ctcvr"]))
            clicked.append(int(r["clicked"]))
            bought.append(int(r["purchased"]))
    n = len(ids)
    y_click, y_buy = np.array(clicked), np.array(bought)
    items = []
    for line in open(a.events):
        if '"impression"' in line:
            items.append(json.loads(line)["item_id"])
    assert len(items) == n, f"{len(items)} impressions in events, {n} rows in truth"
    item_codes = np.unique(np.array(items), return_inverse=True)[1]

    learners = []
    pos = {e: i for i, e in enumerate(ids)}
    sc, sv = np.full(n, np.nan), np.full(n, np.nan)
    with open(a.streamrec_predictions) as f:
        for r in csv.DictReader(f):
            i = pos.get(r["event_id"])
            if i is not None:
                sc[i], sv[i] = float(r["p_click"]), float(r["p_ctcvr"])
    missing = int(np.isnan(sc).sum())
    report = json.load(open(a.streamrec_report))
    learners.append(("streamrec", np.nan_to_num(sc), np.nan_to_num(sv), report.get("learn_samples_per_sec"),
                     report.get("learn_samples_per_cpu_sec")))
    for name, npy, rep in a.peer:
        p = np.load(npy).astype(np.float64)
        assert len(p) == n, f"{name}: {len(p)} predictions for {n} impressions"
        r = json.load(open(rep))
        learners.append((name, p[:, 0], p[:, 0] * p[:, 1], r["samples_per_sec"], r.get("samples_per_cpu_sec")))
    learners.append(("counter, labels at once", counter(item_codes, y_click), counter(item_codes, y_buy), None, None))
    learners.append(("oracle (true probabilities)", np.array(p_click), np.array(p_ctcvr), None, None))

    tail = slice(int(n * 0.8), n)
    lines = [
        f"{n} impressions, CTR {y_click.mean():.4f}, CTCVR {y_buy.mean():.5f}"
        + (f"; streamrec scored all but {missing}" if missing else ""),
        "",
        "| learner | click AUC | click AUC, last 20 % | CTCVR AUC | CTCVR AUC, last 20 % "
        "| pCTR / CTR, last 20 % | pCTCVR / CTCVR, last 20 % | samples/s, 1 thread | samples per CPU-s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, pc, pv, sps, cps in learners:
        row = [auc(pc, y_click), auc(pc[tail], y_click[tail]), auc(pv, y_buy), auc(pv[tail], y_buy[tail]),
               pc[tail].mean() / max(y_click[tail].mean(), 1e-12), pv[tail].mean() / max(y_buy[tail].mean(), 1e-12)]
        cells = [f"{v:.4f}" for v in row[:4]] + [f"{v:.3f}" for v in row[4:]]
        cells.append(f"{sps / 1000:.1f} k" if sps else "—")
        cells.append(f"{cps / 1000:.1f} k" if cps else "—")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    peers = [(name, sps, cps) for name, _, _, sps, cps in learners[1:] if sps]
    s, c = learners[0][3], learners[0][4]
    if s and peers:
        lines.append("")
        lines.append("samples/s, streamrec / peer (wall; CPU time): " + ", ".join(
            f"{name} {s / sps:.2f}x; {c / cps:.2f}x" if c and cps else f"{name} {s / sps:.2f}x"
            for name, sps, cps in peers))
    text = "\n".join(lines)
    print(text)
    if a.markdown_out:
        with open(a.markdown_out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
