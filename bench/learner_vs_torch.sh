#!/usr/bin/env bash
# streamrec's online learner vs the same model in PyTorch, on the same stream.
#
#   bench/learner_vs_torch.sh [BUILD_DIR] [DATA_DIR] [--set key=value ...]
#
# Makes the synthetic stream (1M impressions, 10k users, 2k items, seed 42)
# in DATA_DIR unless it is there, runs `streamrec train` and
# bench/peers/torch_esmm.py (same features, sizes, batch, learning rates,
# one online pass with progressive validation, one thread each) and prints
# one table side by side. samples/s counts the scoring+learning loop of each
# (parsing and joining excluded on both sides; streamrec's end-to-end rate,
# parsing JSON included, is printed too). Needs python3-torch
# (scripts/bootstrap.sh --with-torch).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}; shift || true
data=${1:-/tmp/streamrec-bench-1m}; shift || true
sets=("$@")
streamrec=$build/apps/streamrec
python=${PYTHON:-/usr/bin/python3}
[[ -x $streamrec ]] || { echo "no $streamrec: build first (ninja -C $build streamrec)" >&2; exit 2; }
$python -c 'import torch' 2>/dev/null || { echo "PyTorch missing: scripts/bootstrap.sh --with-torch" >&2; exit 2; }

if [[ ! -f $data/truth.csv ]]; then
  $streamrec produce --synthetic --to-file "$data" --impressions 1000000 --seed 42 --users 10000 --items 2000 >&2
fi

# The learner's effective settings, handed to the peer.
declare -A cfg
while IFS=': ' read -r key value; do cfg[$key]=$value; done < <($streamrec config "${sets[@]}" | grep '^learner\.')
peer_args=(--batch "${cfg[learner.batch_size]}" --dim "${cfg[learner.embedding_dim]}"
  --experts "${cfg[learner.experts]}" --expert-hidden "${cfg[learner.expert_hidden]}"
  --tower-hidden "${cfg[learner.tower_hidden]}" --recent "${cfg[learner.recent_clicks]}"
  --lr-dense "${cfg[learner.lr_dense]}" --lr-embedding "${cfg[learner.lr_embedding]}"
  --lr-intercept "${cfg[learner.lr_intercept]}" --adagrad-init "${cfg[learner.adagrad_init]}"
  --l2 "${cfg[learner.l2]}" --click-window-s "${cfg[learner.click_window_s]}"
  --purchase-window-s "${cfg[learner.purchase_window_s]}")
[[ ${cfg[learner.interactions]} == false ]] && peer_args+=(--no-interactions)
[[ ${cfg[learner.bias_terms]} == true ]] && peer_args+=(--bias-terms)
[[ ${cfg[learner.architecture]} == mmoe && ${cfg[learner.optimizer]} == adagrad ]] ||
  echo "note: the peer is MMoE + Adagrad only; the learner runs ${cfg[learner.architecture]} + ${cfg[learner.optimizer]}" >&2

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
$streamrec train --events "$data/events.jsonl" --items "$data/items.jsonl" --truth "$data/truth.csv" \
  --report-json "$out/learner.json" "${sets[@]}" >&2
$python "$here/peers/torch_esmm.py" --events "$data/events.jsonl" --items "$data/items.jsonl" \
  --report-json "$out/torch.json" "${peer_args[@]}" >&2

$python - "$out/learner.json" "$out/torch.json" <<'PY'
import json, sys
l, t = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
m = l["metrics"]
rows = [
    ("samples/s (1 thread, learn loop)", l["learn_samples_per_sec"], t["samples_per_sec"], "x"),
    ("click AUC", m["click"]["whole"]["auc"], t["click_auc"], "-"),
    ("CTCVR AUC", m["ctcvr"]["whole"]["auc"], t["ctcvr_auc"], "-"),
    ("CVR AUC (clicked)", m["cvr"]["whole"]["auc"], t["cvr_auc"], "-"),
]
print("| metric | streamrec | PyTorch | streamrec vs PyTorch |")
print("|---|---:|---:|---:|")
for name, a, b, kind in rows:
    rel = f"{a / b:.1f}x" if kind == "x" else f"{a - b:+.4f}"
    fmt = "{:.0f}" if kind == "x" else "{:.4f}"
    print(f"| {name} | {fmt.format(a)} | {fmt.format(b)} | {rel} |")
print(f"\nstreamrec end to end (JSON parsing + joining included): {l['samples_per_sec']:.0f} samples/s; "
      f"samples {l['samples']} vs {t['samples']}")
print(f"oracle AUC: click {m['oracle_click']['whole']['auc']:.4f}, CTCVR {m['oracle_ctcvr']['whole']['auc']:.4f}, "
      f"CVR {m['oracle_cvr']['whole']['auc']:.4f}; per-item baseline: click {m['baseline_click']['whole']['auc']:.4f}, "
      f"CTCVR {m['baseline_ctcvr']['whole']['auc']:.4f}")
PY
