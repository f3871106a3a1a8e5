// A Kafka consumer in a consumer group, owned by RAII, with explicit commits.
//
// Auto-commit is off: offsets are committed only by commit(), which the owner
// calls after the batch's effects are durable (Redis acknowledged them). When
// a rebalance takes partitions away, or close() leaves the group, the revoke
// hook runs first, inside poll()/close() on the caller's thread, so the owner
// can finish and commit what it holds for those partitions.
//
// Not thread-safe: poll, commit and close belong to one thread. Created behind
// a unique_ptr because librdkafka keeps a pointer to it for the callback.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/consumed.h"
#include "core/kafka.h"
#include "core/status.h"

namespace streamrec {

// (topic, partition) -> the next offset to read, i.e. last processed + 1.
using CommitOffsets = std::map<std::pair<std::string, int32_t>, int64_t>;

class GroupConsumer {
 public:
  // Runs before partitions are taken away (inside poll() or close()).
  using RevokeHook = std::function<void(const std::vector<TopicPartition>&)>;
  // Chooses where an assigned partition starts; nullopt: the committed offset.
  using StartOffset = std::function<std::optional<int64_t>(const TopicPartition&)>;

  static Result<std::unique_ptr<GroupConsumer>> create(const Config& config, const std::vector<std::string>& topics,
                                                       RevokeHook on_revoke, StartOffset start_offset);
  ~GroupConsumer();
  GroupConsumer(const GroupConsumer&) = delete;
  GroupConsumer& operator=(const GroupConsumer&) = delete;

  // The next message or error event, or nullptr after `timeout_ms`.
  KafkaMessage poll(int timeout_ms);
  Status commit(const CommitOffsets& offsets);
  // Stops (resumes) fetching every assigned partition; poll() then returns
  // no messages from them, but still serves the group (heartbeats,
  // rebalances) and counts as polling for max.poll.interval.ms. On resume
  // each partition goes on after the last message poll() returned.
  void pause();
  void resume();
  // Leaves the group (running the revoke hook). Idempotent.
  void close();

  // The Kafka cluster's id, or "" if the cluster did not say within
  // `timeout_ms`.
  std::string cluster_id(int timeout_ms) const;

  // The group's committed offset of `partition` (the next to read), or
  // nullopt when it has none or the coordinator did not answer within
  // `timeout_ms`. May be called from the StartOffset hook.
  std::optional<int64_t> committed(const TopicPartition& partition, int timeout_ms) const;

  // The first offset `partition` still holds and the offset after its last
  // (low and high watermarks, asked of the broker), or nullopt if it did not
  // answer within `timeout_ms`. May be called from the StartOffset hook.
  std::optional<std::pair<int64_t, int64_t>> watermarks(const TopicPartition& partition, int timeout_ms) const;

  // How many partitions `topic` has, or 0 if the cluster did not say within
  // `timeout_ms`.
  int partition_count(const std::string& topic, int timeout_ms) const;

  // How many times partitions were assigned so far (changes on each rebalance).
  int64_t assignments() const { return assignments_; }

  // Partitions currently assigned, as "topic/partition" strings.
  std::vector<std::string> assignment() const;

  // Consumer lag of `topic`: over its assigned partitions, the high
  // watermark last seen (librdkafka updates it with every fetch; no request
  // is made) minus the position (the next offset this consumer will hand
  // out). Partitions with nothing fetched yet count 0.
  // `by_partition` (when given) gets each partition's share.
  int64_t lag(const std::string& topic, std::map<int32_t, int64_t>* by_partition = nullptr) const;

 private:
  GroupConsumer() = default;
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                           void* opaque);

  KafkaClient consumer_;
  RevokeHook on_revoke_;
  StartOffset start_offset_;
  bool closed_ = false;
  int64_t assignments_ = 0;
};

}  // namespace streamrec
