#!/usr/bin/env bash
# Runs the libFuzzer targets (tests/fuzz: the event and item decoders, the
# config loader, the Redis URL parser, the checkpoint reader) for a number of
# executions each, with AddressSanitizer and UBSan, and prints executions,
# exec/s, coverage (libFuzzer's cov/ft), corpus growth and the outcome per
# target. A crash stops that target
# and leaves its input in the work folder; the script then exits 1.
#
#   bench/fuzz.sh [--runs 10000000] [--seconds 0] [--work DIR] [TARGET...]
#
#   --runs N     executions per target (libFuzzer -runs)
#   --seconds S  a time limit per target instead (libFuzzer -max_total_time)
#   --work DIR   where corpora grow and crashes land (default: a temp folder,
#                kept when a target crashes)
#   TARGET       event_decoder, config, redis_url, checkpoint (default: all)
#
# The seeds are tests/fuzz/corpus/<target>; the repository's copy is never
# written. Builds build-fuzz/ with clang (scripts/bootstrap.sh installs it).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

runs=10000000 seconds=0 work="" targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="$2"; shift ;;
    --seconds) seconds="$2"; shift ;;
    --work) work="$2"; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
[[ ${#targets[@]} -gt 0 ]] || targets=(event_decoder config redis_url checkpoint)
for t in "${targets[@]}"; do
  [[ -d "$root/tests/fuzz/corpus/$t" ]] || { echo "fuzz.sh: unknown target $t (event_decoder, config, redis_url, checkpoint)" >&2; exit 2; }
done

"$root/scripts/build-fuzz.sh"
[[ -n "$work" ]] || work="$(mktemp -d /tmp/streamrec-fuzz.XXXXXX)"
mkdir -p "$work"
limit=(-runs="$runs")
[[ "$seconds" != 0 ]] && limit=(-max_total_time="$seconds")

failed=0
printf '%-14s %12s %10s %8s %8s %s\n' target executions exec/s cov/ft corpus outcome
for t in "${targets[@]}"; do
  corpus="$work/$t" log="$work/$t.log"
  mkdir -p "$corpus"
  start=$(date +%s)
  set +e
  "$root/build-fuzz/tests/fuzz/${t}_fuzz" "${limit[@]}" -print_final_stats=1 -artifact_prefix="$work/$t-" \
    "$corpus" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  set -e
  elapsed=$(( $(date +%s) - start ))
  executed=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$log")
  # libFuzzer's last status line: cov = instrumented edges reached, ft =
  # features (edges with hit counts), the measure its corpus grows by.
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 | awk '{print $2 "/" $4}')
  size=$(ls "$corpus" | wc -l)
  outcome="ok (${elapsed} s)"
  if [[ $rc -ne 0 ]]; then outcome="CRASH: $(grep -m1 -E 'ERROR|SUMMARY|runtime error' "$log"); see $log"; failed=1; fi
  printf '%-14s %12s %10s %8s %8s %s\n' "$t" "${executed:-?}" "${rate:-?}" "${cov:-?}" "$size" "$outcome"
done
[[ $failed -eq 0 ]] && [[ "$work" == /tmp/streamrec-fuzz.* ]] && rm -rf "$work"
exit $failed
