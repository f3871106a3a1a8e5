#!/usr/bin/env bash
# `streamrec evaluate` on the real samples: its throughput (events/s over the
# whole replay: learning, every baseline, and a ranking per held-out click)
# and what a ranking costs with each candidate source alone, then with all.
#
#   bench/evaluate.sh [--build DIR] [--data DIR] [--out DIR] [--set key=value ...]
#
# DATA_DIR (default ../shared/data beside the repository) holds the samples
# its README describes: taobao-userbehavior-2h.csv and
# rees46-2019-oct-head.csv. Reports go to OUT_DIR (default
# /tmp/streamrec-evaluate-bench): one JSON report per run. Speed is wall
# time on a shared machine: the script prints `uptime` before and after.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$here/../build
data=$here/../../shared/data
out=/tmp/streamrec-evaluate-bench
sets=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --set) sets+=(--set "$2"); shift 2 ;;
    *) echo "usage: $0 [--build DIR] [--data DIR] [--out DIR] [--set key=value ...]" >&2; exit 2 ;;
  esac
done
streamrec=$build/apps/streamrec
mkdir -p "$out"

# Each source alone: every other source's candidates set to 0.
none=(--set rankings.recent_candidates=0 --set rankings.covisit_candidates=0 --set rankings.category_candidates=0
  --set rankings.brand_candidates=0 --set rankings.retrieval_candidates=0 --set rankings.popular_candidates=0)
declare -A alone=(
  [recent]=rankings.recent_candidates=10
  [covisit]=rankings.covisit_candidates=50
  [category]=rankings.category_candidates=50
  [brand]=rankings.brand_candidates=20
  [retrieval]=rankings.retrieval_candidates=100
  [popular]=rankings.popular_candidates=20
)

echo "load before: $(uptime)"
printf "%-8s %-10s %10s %12s %10s %8s %8s\n" dataset sources events/s rankings us/ranking HR@10 newHR@10
for spec in taobao:taobao-userbehavior-2h.csv rees46:rees46-2019-oct-head.csv; do
  format=${spec%%:*} file=$data/${spec#*:}
  for run in all recent covisit category brand retrieval popular; do
    args=()
    [[ $run != all ]] && args=("${none[@]}" --set "${alone[$run]}")
    report=$out/$format-$run.json
    "$streamrec" evaluate --events "$file" --format "$format" --no-progress --report "$report" \
      "${sets[@]}" "${args[@]}" >/dev/null
    python3 - "$report" "$format" "$run" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["recommenders"]["streamrec"]
print("%-8s %-10s %10.0f %12d %10.1f %8.4f %8.4f" % (sys.argv[2], sys.argv[3], r["events_per_sec"],
      r["held_out_clicks"], r["ranking_us"], s["all"]["hit_rate"], s["new_items"]["hit_rate"]))
PY
  done
done
echo "load after: $(uptime)"
