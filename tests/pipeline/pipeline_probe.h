// What the in-process StreamPipeline tests feed and read: consumed events
// with their Kafka origin, and the entries of one memory structure in the
// pipeline's stats JSON.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <regex>
#include <string>
#include <string_view>
#include <thread>

#include "pipeline/stream_pipeline.h"

namespace streamrec::pipeline::testing_probe {

// The "entries" of one structure in the stats' "memory" object; -1 if absent.
inline int64_t entries(const std::string& stats, const std::string& structure) {
  std::smatch m;
  if (!std::regex_search(stats, m, std::regex("\"" + structure + "\":\\{\"entries\":([0-9]+)"))) return -1;
  return std::stoll(m[1]);
}

// "test/events/<partition>", kept for the whole test: a MessageOrigin only
// views its source, as the consumer's views the Kafka message it came in.
// Called from the test's thread.
inline std::string_view source_of(int32_t partition) {
  static std::map<int32_t, std::string> sources;
  return sources.try_emplace(partition, "test/events/" + std::to_string(partition)).first->second;
}

// An event of `user` on `item`, consumed from events partition `partition`
// at `offset`; its time grows with the offset.
inline ConsumedEvent consumed(EventType type, const std::string& user, const std::string& item, int32_t partition,
                              int64_t offset) {
  ConsumedEvent c;
  c.event.event_id = user + "-" + std::to_string(offset);
  c.event.type = type;
  c.event.user_id = user;
  c.event.item_id = item;
  c.event.ts_ms = 1'767'225'600'000 + 1000 * offset;
  c.origin.source = source_of(partition);
  c.origin.topic = "events";
  c.origin.partition = partition;
  c.origin.offset = offset;
  c.origin.kafka_ts_ms = c.event.ts_ms;
  return c;
}

// Waits (generously: no timing assertion) until `done(stats)` holds;
// returns the last stats read.
template <class F>
std::string wait_for_stats(const StreamPipeline& pipeline, F done) {
  std::string stats = pipeline.stats_json(false);
  for (int i = 0; i < 1200 && !done(stats); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stats = pipeline.stats_json(false);
  }
  return stats;
}

}  // namespace streamrec::pipeline::testing_probe
