// The consuming side of `streamrec learn`: events and items from Kafka in
// batches, effects out, offsets committed only after the effects are durable.
// Events come through the consumer group (each learner its share of the
// partitions); items through a TopicReader, whole, to every learner.
//
// For each batch (consumer.batch_max_messages or consumer.batch_max_ms):
//   1. decode every message (the input rules of docs/events.md, event
//      times at most consumer.max_future_skew_s ahead of the clock); a
//      malformed one goes to the dead-letter topic unchanged with its
//      reason, a duplicate event_id is dropped (one seen within the last
//      consumer.dedupe_window / P events of its partition, P the events
//      topic's partitions; RecentIds), an event more than
//      consumer.late_horizon_s older than the newest is counted as late;
//   2. hand the valid events to the EventSink; if it fails (Redis down), back
//      off and retry the same batch until it succeeds or a stop is requested
//      (or, with stop_after_idle, it has failed that long); the same failure
//      again and again is logged as an error with its reason. Meanwhile the
//      events partitions are paused and the consumer keeps polling, so it
//      stays in the group however long the sink fails (librdkafka leaves
//      the group after max.poll.interval.ms without a poll); they resume
//      once the sink succeeds. A fatal failure (Error::fatal: Redis lost
//      data) is not retried: the run ends with it and commits nothing more;
//   3. commit the offsets of every durable batch -- never past a dead letter
//      the dead-letter topic has not acknowledged (an unavailable topic holds
//      back commits, never the consumer) -- at most every
//      consumer.commit_interval_ms, and always before partitions are revoked
//      or the loop ends. A sink may hold effects back over several batches
//      and write them in the background (EventSink::write_mark); their
//      offsets wait until it has written them, and before a revocation or
//      the end it is made to (EventSink::flush).
// A crash anywhere re-delivers from the last commit, which the sink must
// tolerate (IdempotentWriter does). So that duplicates are dropped across a
// restart or a takeover too, each assigned events partition is first re-read
// for up to dedupe_window / P offsets before its start (P: the topic's
// partitions), only to remember their event ids. Runs on the caller's thread; not
// thread-safe; stats() may be read between batches on that thread.
#pragma once

#include <array>
#include <map>
#include <chrono>
#include <deque>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "consumers/dead_letter_queue.h"
#include "core/consumed.h"
#include "consumers/group_consumer.h"
#include "consumers/recent_ids.h"
#include "consumers/topic_reader.h"
#include "core/config.h"
#include "core/event.h"
#include "core/stop_signal.h"

namespace streamrec {

struct ConsumeStats {
  int64_t messages = 0;      // every message consumed, valid or not
  int64_t events = 0;        // valid events handed to the sink
  int64_t items = 0;         // valid item messages handed to the sink
  int64_t duplicates = 0;    // dropped for a repeated event_id
  int64_t late = 0;          // events older than consumer.late_horizon_s before the newest one (applied all the same)
  int64_t remembered = 0;    // re-read before a partition's start, only for their event ids
  int64_t dead_letters = 0;  // sent to the dead-letter topic
  int64_t dead_letters_pending = 0;  // not acknowledged by it yet (at the last report)
  std::array<int64_t, kDecodeErrorCodeCount> dead_letters_by_reason{};
  int64_t batches = 0;
  int64_t commits = 0;
  int64_t sink_retries = 0;
  int64_t commit_failures = 0;
  int64_t lag = 0;           // events not consumed yet, at the last report (GroupConsumer::lag)
  std::map<int32_t, int64_t> lag_by_partition;  // the same per events partition (assigned, with a position)
};

// The stats as one JSON object. The stats file holds
// {"consumer": <this>, "sink": <EventSink::stats_json()>}.
std::string to_json(const ConsumeStats& stats);

struct ConsumeOptions {
  // Stop after this long without a message, or of a sink failing without a
  // success (0: run until stopped).
  std::chrono::milliseconds stop_after_idle{0};
  // Log a status line (and rewrite stats_file, if set) this often.
  std::chrono::milliseconds status_interval{5000};
  std::string stats_file;
  // Called with the same JSON as the stats file, with every status line and
  // at the end, on the loop's thread (`streamrec learn`'s /metrics keeps it).
  std::function<void(const std::string& stats_json)> on_report;
};

class ConsumeLoop {
 public:
  static Result<std::unique_ptr<ConsumeLoop>> create(const Config& config, EventSink& sink);
  // Leaves the group if run() did not (the revoke hook needs every member).
  ~ConsumeLoop();

  // Runs until `stop` is requested or the idle limit is reached; then
  // finishes the open batch, commits and leaves the group. An Error means
  // the last batch could not be made durable (it was not committed).
  Status run(const StopSignal& stop, const ConsumeOptions& options);

  const ConsumeStats& stats() const { return stats_; }

 private:
  ConsumeLoop(const Config& config, EventSink& sink, DeadLetterQueue dlq);
  // A partition this loop has read from. Its names are made once and every
  // MessageOrigin from it points into them, so entries are never removed
  // (a consumer sees few partitions) and never move.
  struct Partition {
    std::string topic;
    int32_t partition = 0;
    std::string source;  // "<cluster id>/<topic>/<partition>", or "<topic>/<partition>"
    bool items = false;  // the items topic (else events)
    int64_t batch_next = -1;  // after the open batch's last message from here; -1: none
    // Messages before this offset were consumed before this assignment:
    // they are re-read only to remember their event ids.
    int64_t remember_until = -1;
    // The ids of its last dedupe_window / P events (an events partition).
    // Per partition, not one window for all: a retry lands in the partition
    // of its original (same key), and how many events of other partitions
    // come between them depends on how fetches interleave partitions -- a
    // learner catching up reads one partition's backlog in large chunks, and
    // a shared window then forgot originals a second or two old.
    RecentIds recent_ids{0};
  };

  void add(KafkaMessage message);
  Partition& partition_of(std::string_view topic, int32_t partition);
  // consumer.dedupe_window / P (the partitions of the events topic, asked
  // of the broker once: may block up to 5 s the first time).
  int64_t dedupe_window_per_partition();
  // Where an assigned partition starts: the sink's choice, else the
  // committed offset; for an events partition, up to dedupe_window / P
  // offsets earlier (no earlier than the partition holds), to remember
  // their ids (nullopt: librdkafka's default); and tells the sink where its
  // reading of an events partition begins (EventSink::reading_from). Asks
  // the broker: may block up to 5 s per call, inside the rebalance.
  std::optional<int64_t> start_of(const TopicPartition& partition);
  // Makes the open batch durable and commits it; retries the sink while
  // `stop` allows. Called between polls and from the revoke hook.
  Status finish_batch();
  // Commits what finished batches made durable; `force` ignores the
  // interval and first has the sink write what it holds back.
  void commit(bool force);
  // Waits `how_long` for a retry of the sink; outside a rebalance callback,
  // with the events partitions paused and polling the consumer all along
  // (what a poll still returns is kept, in order, for after the retry).
  void wait_for_retry(std::chrono::milliseconds how_long);
  // Resumes the partitions wait_for_retry() paused.
  void resume_after_retry();
  // The next message: one kept by wait_for_retry(), else a poll.
  KafkaMessage next_message(int timeout_ms);
  // Runs `attempt` until it succeeds, backing off, or a stop is requested,
  // or it has failed for longer than the run's stop_after_idle. The same
  // failure three times in a row is logged as an error.
  Status until_sink_succeeds(const std::function<Status()>& attempt);
  // Logs a failed write of the sink: a warning, and from the third time in
  // a row the same failure an error with how long it has lasted. An ok
  // `result` resets the count.
  void note_sink_result(const Status& result, const char* then);
  void log_sink_failure(const Status& failure, const char* then);
  void report(const char* what, const ConsumeOptions& options);
  void report_partition_ends();
  const std::string& cluster_id();

  Config config_;
  EventSink& sink_;
  DeadLetterQueue dlq_;
  std::unique_ptr<GroupConsumer> consumer_;  // the events topic, in the group
  std::unique_ptr<TopicReader> items_;       // every partition of the items topic
  EventDecoder decoder_;
  int64_t newest_event_ms_ = 0;  // the newest event time consumed (late events count against it)
  const StopSignal* stop_ = nullptr;
  std::chrono::milliseconds stop_after_idle_{0};  // the run's
  std::string last_sink_failure_;
  int sink_failures_in_a_row_ = 0;
  std::chrono::steady_clock::time_point sink_failing_since_{};
  // Prepended to "<topic>/<partition>" in every message's source: offsets
  // are only comparable within one cluster, and a new cluster starts again
  // at offset 0 (see docs/redis-keys.md). Asked for once, lazily.
  std::optional<std::string> cluster_id_;
  int events_partitions_ = 0;  // of the events topic, asked once (1 if the cluster did not say); 0: not yet
  std::vector<std::unique_ptr<Partition>> partitions_;
  Partition* last_partition_ = nullptr;  // messages come in runs from one partition

  bool in_revoke_ = false;  // inside the revoke hook: no poll from there
  bool closing_ = false;    // the consumer is closing: its revokes are not a rebalance
  bool paused_ = false;     // the events partitions, while the sink fails
  std::deque<KafkaMessage> kept_;  // polled while paused, for after the retry
  ConsumedBatch batch_;  // cleared, not freed, between batches: its capacity is reused
  std::vector<std::pair<TopicPartition, int64_t>> reached_end_;  // end-of-partition events not yet reported
  size_t batch_messages_ = 0;
  // Applied by the sink, by the sink's write_mark() after the batch: durable
  // once its durable_mark() gets there.
  std::map<uint64_t, CommitOffsets> applied_offsets_;
  CommitOffsets durable_offsets_;  // durable in Redis, not yet committed
  CommitOffsets committed_;  // the last offset committed, of a partition held back for a dead letter
  std::chrono::steady_clock::time_point last_commit_;
  Status failure_;  // sticky: the first batch that could not be made durable
  ConsumeStats stats_;
};

}  // namespace streamrec
