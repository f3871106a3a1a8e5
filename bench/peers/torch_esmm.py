#!/usr/bin/env python3
"""The streamrec learner's model, written in PyTorch, for bench/learner_vs_torch.sh.

Same protocol as `streamrec train` (online_learner/learner.h):
  * features: user_id, item_id, category, bucketed log price, context device,
    hour and page, and the recent-click bag (mean of the last 5 clicked items'
    item embeddings, snapshot at impression time); one collisionless row per
    (field, value);
  * model: field embeddings (dim D; with --bias-terms also one logit bias
    per task per row, added to the logits), concatenated with their pairwise dot products (DLRM) -> MMoE (E experts
    Dense+ReLU, one softmax gate per task) -> towers (Dense+ReLU, Dense) ->
    ESMM: pCTR = s(click), pCVR = s(cvr), pCTCVR = pCTR * pCVR,
    L = BCE(click, pCTR) + BCE(purchase, pCTCVR) + l2;
  * Adagrad, one learning rate for dense layers, one for embedding rows
    (sparse updates), one for the tower output biases;
  * progressive validation: every impression is scored when it is shown, in
    mini-batches, with the model of that moment; labels are released after
    a fixed delay (click stage at impression + click window, purchase stage
    at click + purchase window) and learned in mini-batches.
Only the scoring and learning loop is timed (not parsing), with one thread.
"""
import argparse
import heapq
import json
import math
import time

import torch

torch.set_num_threads(1)
torch.set_num_interop_threads(1)


def auc(scores, labels):
    n = len(scores)
    order = sorted(range(n), key=lambda i: scores[i])
    rank_sum, pos, i = 0.0, 0, 0
    while i < n:
        j = i
        while j < n and scores[order[j]] == scores[order[i]]:
            j += 1
        r = (i + 1 + j) / 2.0
        for k in range(i, j):
            if labels[order[k]]:
                rank_sum += r
                pos += 1
        i = j
    neg = n - pos
    if pos == 0 or neg == 0:
        return float("nan")
    return (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg)


def price_bucket(price):
    return 0 if not price > 0 else 1 + int(math.floor(2 * math.log2(1 + price)))


class Model(torch.nn.Module):
    def __init__(self, rows, fields, dim, tasks, experts, expert_hidden, tower_hidden, interactions, bias_terms):
        super().__init__()
        self.dim, self.fields, self.tasks, self.interactions = dim, fields, tasks, interactions
        self.bias_terms = bias_terms
        self.emb = torch.nn.Embedding(rows + 1, dim + (tasks if bias_terms else 0), sparse=True, padding_idx=rows)
        with torch.no_grad():
            self.emb.weight[:, :dim].uniform_(-0.05, 0.05)
            self.emb.weight[:, dim:].zero_()
            self.emb.weight[rows].zero_()
        pairs = fields * (fields - 1) // 2 if interactions else 0
        d_in = fields * dim + pairs
        iu = torch.triu_indices(fields, fields, 1)
        self.register_buffer("iu0", iu[0])
        self.register_buffer("iu1", iu[1])
        self.experts = torch.nn.ModuleList([torch.nn.Linear(d_in, expert_hidden) for _ in range(experts)])
        self.gates = torch.nn.ModuleList([torch.nn.Linear(d_in, experts) for _ in range(tasks)])
        self.t1 = torch.nn.ModuleList([torch.nn.Linear(expert_hidden, tower_hidden) for _ in range(tasks)])
        self.t2 = torch.nn.ModuleList([torch.nn.Linear(tower_hidden, 1) for _ in range(tasks)])

    def forward(self, single, bag, bag_count):
        # single: B x (fields-1) row ids; bag: B x R row ids (padding = empty)
        e = self.emb(single)                       # B x F1 x (D+T)
        b = self.emb(bag).sum(1) / bag_count.clamp(min=1).unsqueeze(1)
        x = torch.cat([e[:, :, : self.dim], b[:, None, : self.dim]], 1)  # B x F x D
        wide = e[:, :, self.dim:].sum(1) if self.bias_terms else 0  # B x T
        z = x.reshape(x.shape[0], -1)
        if self.interactions:
            dots = torch.bmm(x, x.transpose(1, 2))[:, self.iu0, self.iu1]
            z = torch.cat([z, dots], 1)
        h = torch.stack([torch.relu(ex(z)) for ex in self.experts], 1)   # B x E x H
        logits = []
        for k in range(self.tasks):
            g = torch.softmax(self.gates[k](z), 1)                        # B x E
            m = (g.unsqueeze(2) * h).sum(1)
            logits.append(self.t2[k](torch.relu(self.t1[k](m))).squeeze(1))
        return torch.stack(logits, 1) + wide


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", required=True)
    ap.add_argument("--items", required=True)
    ap.add_argument("--truth")
    ap.add_argument("--report-json")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--experts", type=int, default=4)
    ap.add_argument("--expert-hidden", type=int, default=64)
    ap.add_argument("--tower-hidden", type=int, default=32)
    ap.add_argument("--recent", type=int, default=5)
    ap.add_argument("--no-interactions", action="store_true")
    ap.add_argument("--bias-terms", action="store_true")
    ap.add_argument("--lr-dense", type=float, default=0.01)
    ap.add_argument("--lr-embedding", type=float, default=0.01)
    ap.add_argument("--lr-intercept", type=float, default=0.3)
    ap.add_argument("--adagrad-init", type=float, default=1e-5)
    ap.add_argument("--l2", type=float, default=1e-6)
    ap.add_argument("--click-window-s", type=int, default=600)
    ap.add_argument("--purchase-window-s", type=int, default=3600)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.manual_seed(a.seed)

    items = {}
    for line in open(a.items):
        it = json.loads(line)
        items[it["item_id"]] = (it.get("category", ""), it.get("price", 0.0))

    # Parse and join (not timed). Rows are assigned per (field, value).
    vocab = {}

    def row(field, value):
        key = (field, value)
        r = vocab.get(key)
        if r is None:
            r = vocab[key] = len(vocab)
        return r

    imps = []          # (ts, single rows, bag rows)
    by_req = {}        # (request_id, item) -> impression index
    click_ts, bought = {}, set()
    recent = {}
    ctx_keys = ("device", "hour", "page")
    for line in open(a.events):
        e = json.loads(line)
        t = e["type"]
        if t == "impression":
            cat, price = items.get(e["item_id"], ("\x01missing", None))
            ctx = e.get("context", {})
            single = [row(0, e["user_id"]), row(1, e["item_id"]), row(2, cat),
                      row(3, str(price_bucket(price)) if price is not None else "missing")]
            single += [row(4 + i, str(ctx.get(k, ""))) for i, k in enumerate(ctx_keys)]
            bag = [row(1, i) for i in recent.get(e["user_id"], [])]
            by_req[(e.get("request_id", ""), e["user_id"], e["item_id"])] = len(imps)
            imps.append((e["ts"], single, bag))
        elif t == "click":
            i = by_req.get((e.get("request_id", ""), e["user_id"], e["item_id"]))
            if i is not None and i not in click_ts and e["ts"] - imps[i][0] <= a.click_window_s * 1000:
                click_ts[i] = e["ts"]
            r = recent.setdefault(e["user_id"], [])
            r.insert(0, e["item_id"])
            del r[a.recent:]
        elif t == "purchase":
            i = by_req.get((e.get("request_id", ""), e["user_id"], e["item_id"]))
            if i in click_ts and e["ts"] - click_ts[i] <= a.purchase_window_s * 1000:
                bought.add(i)
    n = len(imps)
    pad = len(vocab)
    fields = 4 + len(ctx_keys) + 1
    tasks = 2
    model = Model(len(vocab), fields, a.dim, tasks, a.experts, a.expert_hidden, a.tower_hidden,
                  not a.no_interactions, a.bias_terms)
    intercepts = [m.bias for m in model.t2]
    dense = [p for name, p in model.named_parameters()
             if not name.startswith("emb.") and not any(p is q for q in intercepts)]
    opt_dense = torch.optim.Adagrad([{"params": dense, "lr": a.lr_dense},
                                     {"params": intercepts, "lr": a.lr_intercept}],
                                    initial_accumulator_value=a.adagrad_init, eps=1e-10)
    opt_emb = torch.optim.Adagrad([model.emb.weight], lr=a.lr_embedding,
                                  initial_accumulator_value=a.adagrad_init, eps=1e-10)

    def tensors(idx):
        single = torch.tensor([imps[i][1] for i in idx], dtype=torch.long)
        bags = [imps[i][2] for i in idx]
        width = max(1, max(len(b) for b in bags))
        bag = torch.tensor([b + [pad] * (width - len(b)) for b in bags], dtype=torch.long)
        count = torch.tensor([len(b) for b in bags], dtype=torch.float32)
        return single, bag, count

    # Timeline: impressions arrive at ts; labels are released at fixed delays.
    cw, pw = a.click_window_s * 1000, a.purchase_window_s * 1000
    releases = []  # (time, seq, index, stage) stage 0 complete, 1 click, 2 purchase
    seq = 0
    for i, (ts, _, _) in enumerate(imps):
        if i in click_ts:
            releases.append((ts + cw, seq, i, 1)); seq += 1
            releases.append((max(ts + cw, click_ts[i] + pw), seq, i, 2)); seq += 1
        else:
            releases.append((ts + cw, seq, i, 0)); seq += 1
    heapq.heapify(releases)

    p_click = [0.0] * n
    p_cvr = [0.0] * n
    shown, queue = [], []

    def score():
        if not shown:
            return
        with torch.no_grad():
            lg = model(*tensors(shown))
            pc, pv = torch.sigmoid(lg[:, 0]).tolist(), torch.sigmoid(lg[:, 1]).tolist()
        for j, i in enumerate(shown):
            p_click[i], p_cvr[i] = pc[j], pv[j]
        shown.clear()

    def learn(batch):
        score()
        idx = [i for i, _ in batch]
        stage = torch.tensor([s for _, s in batch])
        clicked = torch.tensor([1.0 if i in click_ts else 0.0 for i in idx])
        buy = torch.tensor([1.0 if i in bought else 0.0 for i in idx])
        lg = model(*tensors(idx))
        pc = torch.sigmoid(lg[:, 0]).clamp(1e-7, 1 - 1e-7)
        pctcvr = (pc * torch.sigmoid(lg[:, 1])).clamp(1e-7, 1 - 1e-7)
        m_click = (stage != 2).float()
        m_buy = (stage != 1).float()
        bce = torch.nn.functional.binary_cross_entropy
        loss = ((bce(pc, clicked, reduction="none") * m_click).sum()
                + (bce(pctcvr, buy, reduction="none") * m_buy).sum()) / len(idx)
        loss = loss + a.l2 * sum((p * p).sum() for p in dense + intercepts)
        opt_dense.zero_grad()
        opt_emb.zero_grad()
        loss.backward()
        opt_dense.step()
        opt_emb.step()

    start = time.perf_counter()
    for i, (ts, _, _) in enumerate(imps):
        while releases and releases[0][0] < ts:
            _, _, j, st = heapq.heappop(releases)
            queue.append((j, st))
            if len(queue) >= a.batch:
                learn(queue[:a.batch]); del queue[:a.batch]
        shown.append(i)
        if len(shown) >= a.batch:
            score()
    while releases:
        _, _, j, st = heapq.heappop(releases)
        queue.append((j, st))
    for k in range(0, len(queue), a.batch):
        learn(queue[k:k + a.batch])
    seconds = time.perf_counter() - start

    y_click = [1 if i in click_ts else 0 for i in range(n)]
    y_buy = [1 if i in bought else 0 for i in range(n)]
    ctcvr = [p_click[i] * p_cvr[i] for i in range(n)]
    clicked_idx = [i for i in range(n) if y_click[i]]
    report = {
        "samples": n, "seconds": seconds, "samples_per_sec": n / seconds,
        "click_auc": auc(p_click, y_click), "ctcvr_auc": auc(ctcvr, y_buy),
        "cvr_auc": auc([p_cvr[i] for i in clicked_idx], [y_buy[i] for i in clicked_idx]),
        "embedding_rows": len(vocab), "threads": torch.get_num_threads(),
    }
    print(json.dumps(report))
    if a.report_json:
        with open(a.report_json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
