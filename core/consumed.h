// What the consumer hands on: the valid messages of one Kafka batch, each
// with where it came from, and the interface of whoever takes them.
//
// Plain values; a batch is built and read on one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/status.h"

namespace streamrec {

// Where a message came from: "<topic>/<partition>" and its offset, and the
// Kafka timestamp (ms; the producer's create time, -1 when unknown), which
// freshness is measured from.
struct MessageOrigin {
  std::string source;
  int64_t offset = 0;
  int64_t kafka_ts_ms = -1;
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
  // retry the same batch later and commit nothing meanwhile.
  virtual Status apply(const ConsumedBatch& batch) = 0;
  // Called between polls, every 10 to 100 ms: time-driven work
  // (debounced refreshes, periodic checkpoints). Errors are logged.
  virtual Status tick() { return {}; }
  // The sink's own counters as one JSON object, for the stats file.
  virtual std::string stats_json() const { return "{}"; }
};

}  // namespace streamrec
