// Produces to Kafka: the synthetic stream, or JSONL files replayed line by
// line. Events go to kafka.events_topic keyed by user_id, items to
// kafka.items_topic keyed by item_id; items first, so that a consumer knows
// an item before its first event.
//
// Pacing: producer.rate events per second (0 = as fast as possible); items are
// not paced. Replayed lines are sent exactly as read (without the newline),
// malformed or not -- the consumer's dead-letter queue deals with those; the
// key is the line's user_id (item_id for items) when it can be read, else
// none.
//
// Errors: a setting, file or client that cannot be set up is an Error; after
// that, every message counts as delivered or failed in the report, and the
// run continues. When `stop` returns true, sending ends, queued messages get
// a few seconds to be delivered, and the rest are dropped as failed.
// Blocking, single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/config.h"
#include "core/status.h"
#include "producers/datasets/dataset.h"

namespace streamrec {

struct ProduceHooks {
  std::function<bool()> stop;  // may be empty
  // Called every few hundred messages: done out of total (impressions for
  // the synthetic stream, bytes for a replay), events sent, failures so far.
  std::function<void(int64_t done, int64_t total, int64_t events, int64_t failed)> progress;
};

struct ProduceReport {
  int64_t items = 0;      // item messages sent
  int64_t events = 0;     // event messages sent
  int64_t delivered = 0;  // items + events the brokers acknowledged
  int64_t failed = 0;     // items + events that were not delivered
  std::string last_error;
  double seconds = 0;     // from the first message to the last acknowledgement
  bool interrupted = false;
};

Result<ProduceReport> produce_synthetic(const Config& config, const ProduceHooks& hooks = {});

// Replays `items_file` (if not empty) to the items topic, then `events_file`
// (if not empty) to the events topic.
Result<ProduceReport> produce_replay(const Config& config, const std::string& events_file,
                                     const std::string& items_file, const ProduceHooks& hooks = {});

// Sends a dataset read by read_dataset (producers/datasets/dataset.h): its
// items to the items topic, then its events, in event-time order and paced,
// both in the wire format. Progress counts events.
Result<ProduceReport> produce_dataset(const Config& config, const Dataset& dataset, const ProduceHooks& hooks = {});

}  // namespace streamrec
