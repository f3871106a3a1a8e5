#!/usr/bin/env bash
# streamrec's online learner vs the same model in PyTorch, a per-item counter
# and the oracle, side by side on one synthetic stream.
#
#   bench/learner_vs_torch.sh [--build DIR] [--data DIR] [--gen key=value ...] [--set key=value ...]
#
#   --gen key=value  a generator setting (producer.synthetic.<key>), on top of
#                    the stream below; e.g. --gen seed=11 --gen drift_share=0
#   --set key=value  a learner setting, for `streamrec train` and the peer
#   --peers LIST     the peer's label protocols to run (default
#                    at-once,fake-negative,windowed)
#
# The stream, unless --gen says otherwise: 400k impressions, 4k users, 2k
# items, 40 categories, slates of 10, a request a second (about 11 hours),
# realistic label delays (purchases up to a day after the click), a third of
# the users changing taste at 60 %, seed 7. It is made in DATA_DIR (default
# /tmp/streamrec-vs-torch-<hash of the settings>) unless already there.
#
# Runs `streamrec train` and bench/peers/torch_esmm.py three times (--labels
# at-once, the upper bound; --labels fake-negative, the same delays as
# streamrec's default feedback; --labels windowed, its windowed mode), with the
# learner's effective settings (sizes, batch, learning rates, windows), one
# thread each, then bench/peers/side_by_side.py: AUC over the whole stream
# and its last 20 % against the final labels, calibration, and the learn
# loop's samples/s (scoring + learning; parsing excluded on both sides), by
# the wall clock and per CPU-second of the learning thread. Prints `uptime`
# first: the machine may be shared, compare the ratios of one run.
# Installs python3-torch, python3-numpy and libopenblas0-openmp when missing
# (scripts/bootstrap.sh --with-torch).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$here/../build
data=
gen=(impressions=400000 users=4000 items=2000 categories=40 slate_size=10 mean_gap_ms=1000
  delays=realistic drift_share=0.33 drift_at=0.6 seed=7)
sets=()
peer_labels=at-once,fake-negative,windowed
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --gen) gen+=("$2"); shift 2 ;;
    --set) sets+=(--set "$2"); shift 2 ;;
    --peers) peer_labels=$2; shift 2 ;;
    *) echo "usage: $0 [--build DIR] [--data DIR] [--gen key=value ...] [--set key=value ...] [--peers LIST]" >&2; exit 2 ;;
  esac
done
streamrec=$build/apps/streamrec
python=${PYTHON:-/usr/bin/python3}
[[ -x $streamrec ]] || { echo "no $streamrec: build first (ninja -C $build streamrec)" >&2; exit 2; }
# PyTorch, numpy and OpenBLAS from Debian (idempotent, quiet when there):
# without libopenblas0-openmp Debian's torch runs on the reference BLAS.
"$here/../scripts/bootstrap.sh" --with-torch
$python -c 'import torch, numpy' 2>/dev/null || { echo "PyTorch missing: scripts/bootstrap.sh --with-torch" >&2; exit 2; }
$python -c 'import torch, sys; sys.exit("openblas" not in open("/proc/self/maps").read())' ||
  echo "note: torch does not load OpenBLAS here; it runs on the reference BLAS" >&2

produce_args=()
for kv in "${gen[@]}"; do produce_args+=(--set "producer.synthetic.$kv"); done
stamp=$(printf '%s\n' "${produce_args[@]}")
[[ -n $data ]] || data=/tmp/streamrec-vs-torch-$(printf '%s' "$stamp" | md5sum | cut -c1-10)
if [[ ! -f $data/truth.csv || "$(cat "$data/settings" 2>/dev/null)" != "$stamp" ]]; then
  $streamrec produce --synthetic --to-file "$data" "${produce_args[@]}" >&2
  printf '%s' "$stamp" >"$data/settings"
fi
echo "stream: $data (${gen[*]})" >&2
echo "load: $(uptime)"

# The learner's effective settings, handed to the peer.
declare -A cfg
while IFS=': ' read -r key value; do cfg[$key]=$value; done < <($streamrec config "${sets[@]}" | grep '^learner\.')
peer_args=(--batch "${cfg[learner.batch_size]}" --dim "${cfg[learner.embedding_dim]}"
  --context-fields "${cfg[learner.context_fields]//\"/}"
  --experts "${cfg[learner.experts]}" --expert-hidden "${cfg[learner.expert_hidden]}"
  --tower-hidden "${cfg[learner.tower_hidden]}" --recent "${cfg[learner.recent_clicks]}"
  --init-scale "${cfg[learner.init_scale]}"
  --lr-dense "${cfg[learner.lr_dense]}" --lr-embedding "${cfg[learner.lr_embedding]}"
  --lr-intercept "${cfg[learner.lr_intercept]}" --adagrad-init "${cfg[learner.adagrad_init]}"
  --l2 "${cfg[learner.l2]}" --click-window-s "${cfg[learner.click_window_s]}"
  --purchase-window-s "${cfg[learner.purchase_window_s]}")
[[ ${cfg[learner.uncertainty_weighting]} == true ]] && peer_args+=(--uncertainty-weighting)
[[ ${cfg[learner.architecture]} == mmoe && ${cfg[learner.optimizer]} == adagrad && ${cfg[learner.interactions]} == true &&
  ${cfg[learner.bias_terms]} == false && ${cfg[learner.dot_head]} == false ]] ||
  echo "note: the peer is MMoE + DLRM dots + Adagrad only; the learner runs something else" >&2

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
$streamrec train --events "$data/events.jsonl" --items "$data/items.jsonl" --truth "$data/truth.csv" \
  --report-json "$out/streamrec.json" --predictions-out "$out/streamrec.csv" "${sets[@]}" >"$out/streamrec.log" 2>&1 ||
  { cat "$out/streamrec.log" >&2; exit 1; }
peers=()
for labels in ${peer_labels//,/ }; do
  $python "$here/peers/torch_esmm.py" --events "$data/events.jsonl" --items "$data/items.jsonl" --labels $labels \
    --predictions-out "$out/peer-$labels.npy" --report-json "$out/peer-$labels.json" "${peer_args[@]}" >&2
  peers+=(--peer "PyTorch peer, labels $labels" "$out/peer-$labels.npy" "$out/peer-$labels.json")
done
$python "$here/peers/side_by_side.py" --truth "$data/truth.csv" --events "$data/events.jsonl" \
  --streamrec-predictions "$out/streamrec.csv" --streamrec-report "$out/streamrec.json" "${peers[@]}"
