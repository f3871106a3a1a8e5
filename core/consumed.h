// What the consumer hands on: the valid messages of one Kafka batch, each
// with where it came from, and the interface of whoever takes them.
//
// Plain values, except that a MessageOrigin's names point into the consumer
// that made it (see there); a batch is built and read on one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/status.h"

namespace streamrec {

// Where a message came from: its partition and offset, and the Kafka
// timestamp (ms; the producer's create time, -1 when unknown), which
// freshness is measured from. `source` and `topic` view names the consumer
// made once per partition; they stay valid as long as that consumer (copy
// them to keep them longer).
struct MessageOrigin {
  std::string_view source;  // "<cluster id>/<topic>/<partition>"
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t kafka_ts_ms = -1;
};

struct TopicPartition {
  TopicPartition() = default;
  TopicPartition(std::string_view topic, int32_t partition) : topic(topic), partition(partition) {}

  std::string topic;
  int32_t partition = 0;
  bool operator<(const TopicPartition& o) const {
    return topic != o.topic ? topic < o.topic : partition < o.partition;
  }
  bool operator==(const TopicPartition&) const = default;
};

struct ConsumedEvent {
  Event event;
  MessageOrigin origin;
};

struct ConsumedItem {
  Item item;
  MessageOrigin origin;
};

// The valid messages of one batch, each topic in Kafka order.
struct ConsumedBatch {
  std::vector<ConsumedItem> items;
  std::vector<ConsumedEvent> events;
  bool empty() const { return items.empty() && events.empty(); }
};

// Where valid messages go. Called on the consumer's thread.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // Makes the batch's effects durable. Must be idempotent under re-delivery:
  // after a crash the same messages come again. An Error makes the consumer
  // call apply() again with the same batch, until it succeeds, committing
  // nothing meanwhile.
  virtual Status apply(const ConsumedBatch& batch) = 0;
  // Called between polls, every 10 to 100 ms: time-driven work
  // (debounced refreshes, periodic checkpoints). Errors are logged.
  virtual Status tick() { return {}; }
  // Where to start reading a partition just assigned to this consumer in
  // cluster `cluster_id`, when the sink knows better than the committed
  // offset (e.g. it restored a checkpoint taken earlier); nullopt: the
  // committed offset.
  virtual std::optional<int64_t> start_offset(const std::string& cluster_id, const TopicPartition& partition) {
    (void)cluster_id;
    (void)partition;
    return std::nullopt;
  }
  // The consumer reads events `partition`, just assigned, from `offset` on:
  // the first of its messages this consumer has not applied (start_offset(),
  // else the group's committed offset, else the partition's beginning).
  // Called after start_offset(), before any of its messages.
  virtual void reading_from(const TopicPartition& partition, int64_t offset) {
    (void)partition;
    (void)offset;
  }
  // The consumer group has committed offsets of the partition whose
  // messages carry `source` (MessageOrigin::source): the sink's store must
  // already hold their effects, and finding none of them is data loss.
  virtual void expect_applied(std::string_view source) { (void)source; }
  // The consumer has read `partition` to its end, `end_offset` (for now).
  // Called between batches, after the batch holding the messages before it.
  virtual void partition_end(const TopicPartition& partition, int64_t end_offset) {
    (void)partition;
    (void)end_offset;
  }
  // Partitions taken away, after their last batch was applied and
  // committed: by a rebalance (another consumer continues them), or, with
  // `closing`, because this consumer is closing (it stops; what the sink
  // learned from them ends where the commits end).
  virtual void partitions_revoked(const std::vector<TopicPartition>& partitions, bool closing) {
    (void)partitions;
    (void)closing;
  }
  // A sink may hold effects back and write them later, several batches at
  // once, in the background. write_mark() names the write that will hold
  // everything applied so far (marks never decrease); durable_mark() is the
  // highest mark whose write, and every one before it, is in the store.
  // flush() writes everything now and waits for it (an Error: nothing is
  // lost, try again). The consumer commits a batch's offsets once
  // durable_mark() reaches the write_mark() it read after applying it, and
  // flushes before it gives partitions away or stops. A sink that writes in
  // apply() keeps both marks at 0.
  virtual uint64_t write_mark() const { return 0; }
  virtual uint64_t durable_mark() const { return 0; }
  virtual Status flush() { return {}; }
  // The sink's own counters as one JSON object, for the stats file. `final`:
  // the run's last stats, where figures a sink refreshes less often (they
  // cost too much to compute every few seconds) are computed afresh.
  virtual std::string stats_json(bool /*final*/) const { return "{}"; }
};

}  // namespace streamrec
