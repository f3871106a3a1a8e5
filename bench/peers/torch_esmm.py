#!/usr/bin/env python3
"""streamrec's default model as the field would write it in PyTorch: the fair peer.

For bench/learner_vs_torch.sh. The same model, features, sizes, batch,
optimizer and learning rates as `streamrec train` (online_learner/learner.h):
  * features: user_id, item_id, category, bucketed price, the context fields
    --context-fields (streamrec's learner.context_fields, e.g. device,page)
    and the recent-click bag (the mean of the last
    --recent clicked items' item rows, as of the impression); one row per
    (field, value), the bag sharing the item field's rows;
  * model: field embeddings (dim D) and their pairwise dot products (DLRM)
    -> MMoE (E experts Dense+ReLU, one softmax gate per task) -> towers
    (Dense+ReLU, Dense) -> ESMM: pCTR = s(click), pCVR = s(cvr),
    pCTCVR = pCTR * pCVR, L = mean BCE(click, pCTR) + mean BCE(purchase,
    pCTCVR) + l2 on the dense weights; with --uncertainty-weighting (as
    learner.uncertainty_weighting) each task's mean BCE L_k enters as
    exp(-s_k) L_k + s_k with learned s_k (Kendall et al.; Adagrad at the
    dense rate, no l2);
  * Adagrad: one learning rate for dense layers, one for embedding rows
    (sparse gradients), one for the tower output biases;
  * progressive validation: every impression is scored with the model of the
    moment it is shown, before any of its labels is learned.
Two label protocols (--labels):
  at-once   each mini-batch of impressions is scored and then learned with
            its final labels (clicks and purchases whenever they come): the
            upper bound no live system reaches. One forward pass gives the
            scores and the loss.
  fake-negative  streamrec's default (learner.feedback=fake_negative, FNW):
            every impression is scored when shown (in mini-batches, before
            anything newer is learned) and learned at once as a negative of
            both tasks; a click (within the click window) is learned as a
            positive click copy when it arrives, a purchase (within the
            purchase window of its click) as a positive CTCVR copy; each
            copy's loss is weighted 1+p (positive) or (1-p)(1+p) (negative),
            p the model's own prediction of the task, taken without gradient.
            Copies are learned in mini-batches in arrival order: the same
            delays as streamrec.
  windowed  streamrec's windowed mode: impressions are scored in mini-batches
            as they are shown; a sample is learned at its click deadline
            (impression + click window, the click label as seen by then) and
            a clicked one's purchase outcome at its purchase deadline (click
            + purchase window), in mini-batches in deadline order.
How the field writes it: tensors (row ids, labels, the schedule) are built
before the clock starts; the timed loop indexes them per mini-batch
(index_select / embedding_bag), with no per-sample Python; one thread; the
experts and the gates are one GEMM each, the two towers one batched GEMM.
Not matched: streamrec's field_mean_init (a new row starts from its field's
mean row) and its L2 on embedding rows (1e-6).

Writes the per-impression predictions (float32 N x 2: p_click, p_cvr, in
stream order, the order of truth.csv) with --predictions-out, and a JSON
report (timing) to stdout and --report-json.
"""
import argparse
import heapq
import json
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.set_num_interop_threads(1)



def price_bucket(price):
    return 0 if not price > 0 else 1 + int(math.floor(2 * math.log2(1 + price)))


class Model(torch.nn.Module):
    def __init__(self, rows, fields, dim, tasks, experts, expert_hidden, tower_hidden, init_scale, pad):
        super().__init__()
        self.dim, self.fields, self.tasks, self.experts, self.expert_hidden = dim, fields, tasks, experts, expert_hidden
        self.pad = pad
        self.emb = torch.nn.Parameter(torch.empty(rows + 1, dim).uniform_(-init_scale, init_scale))
        with torch.no_grad():
            self.emb[pad].zero_()
        iu = torch.triu_indices(fields, fields, 1)
        self.register_buffer("left", iu[0].clone())   # the pairs (i < j) of fields
        self.register_buffer("right", iu[1].clone())
        d_in = fields * dim + iu.shape[1]
        self.expert = torch.nn.Linear(d_in, experts * expert_hidden)  # all experts in one GEMM
        self.gate = torch.nn.Linear(d_in, tasks * experts)            # all gates in one GEMM
        self.t1_w = torch.nn.Parameter(torch.empty(tasks, expert_hidden, tower_hidden))
        self.t1_b = torch.nn.Parameter(torch.zeros(tasks, 1, tower_hidden))
        self.t2_w = torch.nn.Parameter(torch.empty(tasks, tower_hidden, 1))
        self.t2_b = torch.nn.Parameter(torch.zeros(tasks, 1, 1))      # the intercepts
        for w in (self.expert.weight, self.gate.weight):
            torch.nn.init.xavier_uniform_(w)
        for b in (self.expert.bias, self.gate.bias):
            torch.nn.init.zeros_(b)
        for k in range(tasks):
            torch.nn.init.xavier_uniform_(self.t1_w[k].T)
            torch.nn.init.xavier_uniform_(self.t2_w[k].T)

    def forward(self, single, bag):
        # single: B x (fields-1) row ids; bag: B x R row ids, padded with pad.
        e = F.embedding(single, self.emb, sparse=True)                                  # B x F1 x D
        b = F.embedding_bag(bag, self.emb, mode="mean", sparse=True, padding_idx=self.pad)  # B x D
        x = torch.cat([e, b.unsqueeze(1)], 1)                                             # B x F x D
        # The pairwise dots by gathering the pairs' fields: DLRM's bmm(x, x^T)
        # runs as B tiny products on this torch build (no MKL), ~1.5x slower.
        dots = (x.index_select(1, self.left) * x.index_select(1, self.right)).sum(2)      # B x P
        z = torch.cat([x.flatten(1), dots], 1)
        n = z.shape[0]
        h = torch.relu(self.expert(z)).view(n, self.experts, self.expert_hidden)         # B x E x H
        g = torch.softmax(self.gate(z).view(n, self.tasks, self.experts), 2)              # B x T x E
        # Per task, the gate-weighted sum of the experts (torch's CPU bmm of
        # B tiny products measured 5x slower here).
        m = torch.stack([(g[:, k].unsqueeze(2) * h).sum(1) for k in range(self.tasks)])   # T x B x H
        t = torch.relu(torch.baddbmm(self.t1_b, m, self.t1_w))                            # T x B x Th
        return torch.baddbmm(self.t2_b, t, self.t2_w).squeeze(2).T                        # B x T


def load(a):
    """Parses items and events (not timed): row ids, labels and timing per impression."""
    items = {}
    for line in open(a.items):
        it = json.loads(line)
        items[it["item_id"]] = (it.get("category", ""), it.get("price", 0.0))  # a later line replaces
    vocab = {}

    def row(field, value):
        key = (field, value)
        r = vocab.get(key)
        if r is None:
            r = vocab[key] = len(vocab)
        return r

    single, bags, ts = [], [], []
    by_req = {}
    click_ts, buy_ts = {}, {}
    recent = {}
    for line in open(a.events):
        e = json.loads(line)
        t = e["type"]
        key = (e.get("request_id", ""), e["user_id"], e["item_id"])
        if t == "impression":
            cat, price = items.get(e["item_id"], ("\x01missing", None))
            ctx = e.get("context", {})
            s = [row(0, e["user_id"]), row(1, e["item_id"]), row(2, cat),
                 row(3, str(price_bucket(price)) if price is not None else "missing")]
            s += [row(4 + i, str(ctx.get(k, ""))) for i, k in enumerate(a.context_fields)]
            by_req[key] = len(ts)
            single.append(s)
            bags.append([row(1, i) for i in recent.get(e["user_id"], [])])
            ts.append(e["ts"])
        elif t == "click":
            i = by_req.get(key)
            if i is not None and i not in click_ts:
                click_ts[i] = e["ts"]
            r = recent.setdefault(e["user_id"], [])
            r.insert(0, e["item_id"])
            del r[a.recent:]
        elif t == "purchase":
            i = by_req.get(key)
            if i in click_ts and i not in buy_ts:
                buy_ts[i] = e["ts"]
    n = len(ts)
    pad = len(vocab)
    width = max(1, a.recent)
    bag = np.full((n, width), pad, dtype=np.int64)
    for i, b in enumerate(bags):
        bag[i, :len(b)] = b
    return dict(n=n, rows=len(vocab), pad=pad, single=torch.tensor(single, dtype=torch.long),
                bag=torch.from_numpy(bag), ts=ts, click_ts=click_ts, buy_ts=buy_ts)


def schedule(a, d):
    """The steps of the run, as tensors: ("learn_scored", idx, labels) for
    at-once; ("score", idx) and ("learn", idx, labels, masks, weighted) for
    fake-negative and windowed."""
    n, ts, click_ts, buy_ts = d["n"], d["ts"], d["click_ts"], d["buy_ts"]
    steps = []
    if a.labels == "at-once":
        y = torch.zeros(n, 2)
        for i in click_ts:
            y[i, 0] = 1
        for i in buy_ts:
            y[i, 1] = 1
        for k in range(0, n, a.batch):
            steps.append(("learn_scored", k, min(n, k + a.batch), y[k:k + a.batch].contiguous()))
        return steps
    cw, pw = a.click_window_s * 1000, a.purchase_window_s * 1000
    if a.labels == "fake-negative":
        return fake_negative_schedule(a, d, cw, pw)
    # A sample's stages, released at their deadlines: 0 complete (not clicked
    # in the window: both tasks, no purchase), 1 the click of a clicked one,
    # 2 its purchase outcome.
    releases = []
    seq = 0
    for i in range(n):
        c = click_ts.get(i)
        if c is not None and c - ts[i] <= cw:
            releases.append((ts[i] + cw, seq, i, 1))
            releases.append((max(ts[i] + cw, c + pw), seq + 1, i, 2))
            seq += 2
        else:
            releases.append((ts[i] + cw, seq, i, 0))
            seq += 1
    heapq.heapify(releases)

    def learn(batch):
        idx = torch.tensor([i for i, _ in batch], dtype=torch.long)
        y = torch.zeros(len(batch), 2)
        m = torch.zeros(len(batch), 2)
        for j, (i, st) in enumerate(batch):
            c = click_ts.get(i)
            y[j, 0] = 1.0 if st != 0 else 0.0
            b = buy_ts.get(i)
            y[j, 1] = 1.0 if st == 2 and b is not None and b - c <= pw else 0.0
            m[j, 0] = 1.0 if st != 2 else 0.0
            m[j, 1] = 1.0 if st != 1 else 0.0
        steps.append(("learn", idx, y, m, False))

    shown, queue = [], []
    for i in range(n):
        while releases and releases[0][0] < ts[i]:
            _, _, j, st = heapq.heappop(releases)
            queue.append((j, st))
            if len(queue) >= a.batch:
                if shown:  # what was shown is scored before anything newer is learned
                    steps.append(("score", torch.tensor(shown, dtype=torch.long)))
                    shown = []
                learn(queue)
                queue = []
        shown.append(i)
        if len(shown) >= a.batch:
            steps.append(("score", torch.tensor(shown, dtype=torch.long)))
            shown = []
    if shown:
        steps.append(("score", torch.tensor(shown, dtype=torch.long)))
    while releases:
        _, _, j, st = heapq.heappop(releases)
        queue.append((j, st))
    for k in range(0, len(queue), a.batch):
        learn(queue[k:k + a.batch])
    return steps


def fake_negative_schedule(a, d, cw, pw):
    """FNW, as streamrec's joiner and learner order it: copies in event
    order (an impression's fake negative when shown, its click and purchase
    copies when they arrive), learned in mini-batches of a.batch; every
    impression shown so far is scored before a mini-batch is learned, and
    when a.batch of them wait."""
    n, ts, click_ts, buy_ts = d["n"], d["ts"], d["click_ts"], d["buy_ts"]
    arrivals = [(ts[i], 0, i, 0) for i in range(n)]  # 0: shown (the fake negative)
    for i, c in click_ts.items():
        if c - ts[i] <= cw:
            arrivals.append((c, 1, i, 1))  # 1: the click copy
            b = buy_ts.get(i)
            if b is not None and b - c <= pw:
                arrivals.append((b, 2, i, 2))  # 2: the purchase copy
    arrivals.sort()  # event time; at equal times, as in the file: impressions, clicks, purchases
    label = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    steps, shown, queue = [], [], []

    def score():
        if shown:
            steps.append(("score", torch.tensor(shown, dtype=torch.long)))
            shown.clear()

    def learn():
        score()
        kinds = torch.tensor([k for _, k in queue], dtype=torch.long)
        idx = torch.tensor([i for i, _ in queue], dtype=torch.long)
        steps.append(("learn", idx, label.index_select(0, kinds), mask.index_select(0, kinds), True))
        queue.clear()

    for _, _, i, kind in arrivals:
        if kind == 0:
            shown.append(i)
            if len(shown) >= a.batch:
                score()
        queue.append((i, kind))
        if len(queue) >= a.batch:
            learn()
    if queue:
        learn()
    score()
    return steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", required=True)
    ap.add_argument("--items", required=True)
    ap.add_argument("--labels", choices=["at-once", "fake-negative", "windowed"], default="at-once")
    ap.add_argument("--predictions-out")
    ap.add_argument("--report-json")
    ap.add_argument("--context-fields", default="device,page", type=lambda v: [k for k in v.split(",") if k])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--experts", type=int, default=4)
    ap.add_argument("--expert-hidden", type=int, default=64)
    ap.add_argument("--tower-hidden", type=int, default=32)
    ap.add_argument("--recent", type=int, default=5)
    ap.add_argument("--init-scale", type=float, default=0.05)
    ap.add_argument("--lr-dense", type=float, default=0.01)
    ap.add_argument("--lr-embedding", type=float, default=0.2)
    ap.add_argument("--lr-intercept", type=float, default=0.3)
    ap.add_argument("--adagrad-init", type=float, default=1e-5)
    ap.add_argument("--l2", type=float, default=1e-6)
    ap.add_argument("--click-window-s", type=int, default=600)
    ap.add_argument("--purchase-window-s", type=int, default=3600)
    ap.add_argument("--uncertainty-weighting", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.manual_seed(a.seed)

    d = load(a)
    n = d["n"]
    fields, tasks = 4 + len(a.context_fields) + 1, 2
    model = Model(d["rows"], fields, a.dim, tasks, a.experts, a.expert_hidden, a.tower_hidden, a.init_scale, d["pad"])
    dense = [model.expert.weight, model.expert.bias, model.gate.weight, model.gate.bias,
             model.t1_w, model.t1_b, model.t2_w]
    log_var = torch.nn.Parameter(torch.zeros(tasks))  # the s_k of uncertainty weighting
    groups = [{"params": dense, "lr": a.lr_dense}, {"params": [model.t2_b], "lr": a.lr_intercept}]
    if a.uncertainty_weighting:
        groups.append({"params": [log_var], "lr": a.lr_dense, "weight_decay": 0.0})
    opt_dense = torch.optim.Adagrad(groups,
                                    initial_accumulator_value=a.adagrad_init, eps=1e-10, weight_decay=2 * a.l2)
    opt_emb = torch.optim.Adagrad([model.emb], lr=a.lr_embedding, initial_accumulator_value=a.adagrad_init,
                                  eps=1e-10)
    steps = schedule(a, d)
    single, bag = d["single"], d["bag"]
    preds = torch.zeros(n, 2)

    def learn(logits, y, m=None, weighted=False):
        p_click = torch.sigmoid(logits[:, 0])
        bce_click = F.binary_cross_entropy_with_logits(logits[:, 0], y[:, 0], reduction="none")
        p_ctcvr = (p_click * torch.sigmoid(logits[:, 1])).clamp(1e-7, 1 - 1e-7)
        bce_buy = F.binary_cross_entropy(p_ctcvr, y[:, 1], reduction="none")
        if weighted:  # FNW's importance weights, p without gradient
            p = torch.stack([p_click, p_ctcvr], 1).detach()
            m = m * torch.where(y > 0.5, 1 + p, (1 - p) * (1 + p))
        if m is not None:
            bce_click, bce_buy = bce_click * m[:, 0], bce_buy * m[:, 1]
        if a.uncertainty_weighting:
            task_loss = torch.stack([bce_click.sum(), bce_buy.sum()]) / y.shape[0]
            loss = (torch.exp(-log_var) * task_loss + log_var).sum()
        else:
            loss = (bce_click.sum() + bce_buy.sum()) / y.shape[0]
        opt_dense.zero_grad(set_to_none=True)
        opt_emb.zero_grad(set_to_none=True)
        loss.backward()
        opt_dense.step()
        opt_emb.step()

    start, start_cpu = time.perf_counter(), time.thread_time()
    for step in steps:
        kind = step[0]
        if kind == "learn_scored":
            _, lo, hi, y = step
            logits = model(single[lo:hi], bag[lo:hi])
            preds[lo:hi] = torch.sigmoid(logits.detach())
            learn(logits, y)
        elif kind == "score":
            idx = step[1]
            with torch.no_grad():
                preds.index_copy_(0, idx, torch.sigmoid(model(single.index_select(0, idx), bag.index_select(0, idx))))
        else:
            _, idx, y, m, weighted = step
            learn(model(single.index_select(0, idx), bag.index_select(0, idx)), y, m, weighted)
    seconds, cpu_seconds = time.perf_counter() - start, time.thread_time() - start_cpu

    if a.predictions_out:
        np.save(a.predictions_out, preds.numpy().astype(np.float32))
    blas = ""
    for lib in open("/proc/self/maps"):  # the BLAS the process runs on (Debian's torch says "generic")
        if "blas" in lib:
            blas = lib.split()[-1]
            break
    # samples_per_sec is by the wall clock, as streamrec's learn_samples_per_sec;
    # the CPU time tells how much of it waited for a CPU on a shared machine.
    report = {"labels": a.labels, "samples": n, "seconds": seconds, "samples_per_sec": n / seconds,
              "cpu_seconds": cpu_seconds, "samples_per_cpu_sec": n / cpu_seconds,
              "embedding_rows": d["rows"], "threads": torch.get_num_threads(), "torch": torch.__version__,
              "blas": blas, "steps": len(steps)}
    print(json.dumps(report))
    if a.report_json:
        with open(a.report_json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
