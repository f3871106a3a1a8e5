#!/usr/bin/env bash
# Runs tests under sanitizers, each kind in its own build directory
# (scripts/build-sanitize.sh), with the suppressions of tests/sanitizers/.
#   scripts/test-sanitize.sh                 # ASan + UBSan: builds the unit tests, runs ctest -L unit
#   scripts/test-sanitize.sh --fault         # ASan + UBSan: the unit and the fault tests (CI; the
#                                            # binary too, which the fault tests run)
#   scripts/test-sanitize.sh --all           # ASan + UBSan: builds everything, runs the whole suite
#   scripts/test-sanitize.sh --thread        # TSan: the test binaries of our threads, whole
#                                            # (docs/testing.md, "ThreadSanitizer")
#   scripts/test-sanitize.sh ... --build-only  # builds what the mode runs, runs nothing
#   scripts/test-sanitize.sh ... -R Joiner   # further arguments go to ctest (with --thread: to
#                                            # each binary, e.g. --gtest_filter=Serve*)
# Every report goes to <build>/sanitizer-reports/ as well as failing its
# process: a `streamrec` child that a test only stops would otherwise take
# its report to a log nobody reads. The script fails when a report was
# written, even if every test passed. The memory-bound test (label memory)
# does not run: a sanitizer's shadow memory is not the product's RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
mode=unit
build_only=0
ctest_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --all) mode=all; shift ;;
    --fault) mode=fault; shift ;;
    --thread) mode=thread; shift ;;
    --build-only) build_only=1; shift ;;
    *) ctest_args+=("$1"); shift ;;
  esac
done

supp="$root/tests/sanitizers"
case "$mode" in
  unit)
    dir=build-asan
    scripts/build-sanitize.sh --target unit_tests
    select=(-L unit -LE memory) ;;
  fault)
    dir=build-asan
    scripts/build-sanitize.sh --target unit_tests --target fault_tests
    select=(-L 'unit|fault' -LE memory) ;;
  all)
    dir=build-asan
    scripts/build-sanitize.sh
    select=(-LE memory) ;;
  thread)
    dir=build-tsan
    # The tests that run our threads: in the test process, the async Redis
    # writers, StreamPipeline with its ModelThread and checkpoint writer (the
    # pipeline_* tests) and the retrieval index's builds; in the streamrec
    # child, the learner's threads and serve's HTTP and publisher threads
    # (serve_pipelining_test: many clients at once).
    thread_tests=(async_effects_writer_test async_ranking_writer_test
                  pipeline_model_thread_test pipeline_revoked_partition_test pipeline_user_eviction_test
                  pipeline_recent_clicks_test ranking_retrieval_index_test online_learner_checkpoint_test
                  kcat_counters_test realtime_effect_test
                  serve_events_test serve_forget_test serve_pipelining_test)
    scripts/build-sanitize.sh --thread --target streamrec "${thread_tests[@]/#/--target=}" ;;
esac
if [[ $build_only -eq 1 ]]; then exit 0; fi

reports="$root/$dir/sanitizer-reports"
rm -rf "$reports"
mkdir -p "$reports"
common="log_path=$reports/report:print_suppressions=0"
export ASAN_OPTIONS="$common:detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export LSAN_OPTIONS="$common:suppressions=$supp/lsan.supp"
export UBSAN_OPTIONS="$common:print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp"
# ignore_noninstrumented_modules: an access that an uninstrumented library
# (librdkafka, hiredis, libstdc++) makes through an interceptor (free,
# memcpy, pthread_rwlock_*) is not checked. librdkafka orders its threads
# with atomics TSan cannot see, and every learner reported its rwlocks and
# its freeing of message buffers we had read (docs/testing.md). A
# suppression cannot say that as narrowly: its frames have no names, and
# `race:librdkafka.so.1` also hid a race of ours in a delivery callback,
# whose stack runs through rd_kafka_poll. Our own code stays checked, also
# when librdkafka calls it.
export TSAN_OPTIONS="$common:halt_on_error=0:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$supp/tsan.supp"

# Instrumented children are several times slower (ASan about 2-4x, TSan
# 5-15x, and LeakSanitizer scans the heap at exit): every wait of the test
# support (tests/support/subprocess.h: eventually, a child's wait and its
# SIGTERM grace) is multiplied by this. The tests' own bounds stay those of
# a plain build; an exported value wins.
if [[ "$mode" == thread ]]; then default_scale=10; else default_scale=4; fi
export STREAMREC_TEST_TIME_SCALE="${STREAMREC_TEST_TIME_SCALE:-$default_scale}"

status=0
if [[ "$mode" == thread ]]; then
  # Run the binaries themselves: their gtest names are shared with tests
  # that do not start our threads, so a ctest regex would not pick them.
  for t in "${thread_tests[@]}"; do
    bin="$(find "$dir/tests" -type f -name "$t" -perm -u+x | head -1)"
    echo "test-sanitize: $t" >&2
    "$bin" "${ctest_args[@]}" || status=1
  done
else
  (cd "$dir" && ctest --output-on-failure -j2 --timeout 900 "${select[@]}" "${ctest_args[@]}") || status=$?
fi
if compgen -G "$reports/report*" >/dev/null; then
  echo "test-sanitize: sanitizer reports in $reports:" >&2
  for f in "$reports"/report*; do echo "== $f" >&2; head -60 "$f" >&2; done
  status=1
fi
exit $status
