// Reads every partition of one topic outside any consumer group, so that
// each learner holds the whole `items` topic (the catalog) however the
// group splits the events partitions among learners.
//
// No commits and no group membership: where each partition starts is the
// caller's choice (a checkpoint's position), else its beginning, so a
// learner restarted without a checkpoint reads the whole catalog again.
// The partitions are those the cluster reports on the first poll that finds
// the topic (asked at most every 5 s until then); partitions added later
// are not read until a restart.
//
// Lost messages are never silent: the reader knows the offset each
// partition should deliver next (where it was told to start, 0 from the
// beginning, then the last one read + 1). When the broker no longer holds it
// (the embedded broker keeps ~5 MiB a partition and trims older messages;
// a real one by retention), the first message after the gap shows it, and
// the reader logs an error naming the topic, partition, offsets and how
// many messages were lost, and counts them in lost_messages(). Offsets are
// contiguous on a topic without compaction or transactions, as `items` is.
//
// Not thread-safe: one thread polls. Errors of create() are values naming
// the setting; a topic missing from the cluster is logged once, then waited
// for.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/consumed.h"
#include "core/kafka.h"
#include "core/status.h"

namespace streamrec {

class TopicReader {
 public:
  // Where a partition starts; nullopt: its beginning. Called once per
  // partition, inside the poll() that assigns them.
  using StartOffset = std::function<std::optional<int64_t>(const TopicPartition&)>;

  static Result<std::unique_ptr<TopicReader>> create(const Config& config, std::string topic, StartOffset start);
  ~TopicReader();
  TopicReader(const TopicReader&) = delete;
  TopicReader& operator=(const TopicReader&) = delete;

  // The next message (or error event), or nullptr after `timeout_ms`.
  KafkaMessage poll(int timeout_ms);
  // Whether the topic's partitions are assigned yet.
  bool assigned() const { return assigned_; }
  // Messages the broker had dropped before this reader could read them.
  int64_t lost_messages() const { return lost_; }

 private:
  TopicReader() = default;
  void assign_if_due();
  void check_gap(const rd_kafka_message_t& message);

  KafkaClient consumer_;
  std::string topic_;
  StartOffset start_;
  bool assigned_ = false;
  bool reported_missing_ = false;
  std::chrono::steady_clock::time_point last_attempt_{};
  std::vector<int64_t> expected_;  // per partition: the next offset due
  int64_t lost_ = 0;
};

}  // namespace streamrec
