// Writes rankings to Redis on a thread of its own, so that the model's
// thread never waits for Redis: it ranks the next users while Redis stores
// the last ones.
//
// Rankings are recomputed state: only the newest one of a user matters. A
// ranking published while an older one of the same user still waits replaces
// it (keeping the older one's request time, so freshness counts the whole
// wait). A write Redis does not acknowledge is counted and tried again after
// a pause, unless a newer ranking of that user came meanwhile. At most
// kMaxWaiting users wait; publish() blocks beyond that (Redis slower than
// ranking holds the model's thread back instead of filling memory).
//
// Ownership and threads: owns its thread and its Redis connection (opened
// on first use, reopened after an I/O error). publish() and stats() may be
// called from any thread. The destructor writes what waits, one attempt,
// then stops: rankings Redis refuses then are dropped (Redis may be gone for
// good, and they are recomputed on the next run).
//
// Freshness is measured per ranking acknowledged by Redis: from the Kafka
// timestamp of the oldest event that asked for it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/config.h"
#include "feature_store/ranking_writer.h"
#include "feature_store/redis_connection.h"
#include "pipeline/latency_histogram.h"

namespace streamrec::pipeline {

struct RankingStats {
  int64_t rankings_written = 0;
  int64_t rankings_skipped = 0;  // users the model knew nothing of yet (they read sr:pop)
  int64_t ranking_write_failures = 0;
  LatencyHistogram freshness_ms;
};

// A ranking to write, with the Kafka timestamp of the oldest event that
// asked for it (-1: not measured).
struct PublishedRanking {
  Ranking ranking;
  int64_t asked_at_kafka_ms = -1;
};

class RankingPublisher {
 public:
  explicit RankingPublisher(const Config& config);
  ~RankingPublisher();
  RankingPublisher(const RankingPublisher&) = delete;
  RankingPublisher& operator=(const RankingPublisher&) = delete;

  // Queues `rankings` (moved from) to be written.
  void publish(std::vector<PublishedRanking>& rankings);
  // Written, failed and freshness so far (rankings_skipped is not counted here).
  RankingStats stats() const;

 private:
  void run();
  // Adds `r` unless a newer ranking of its key waits (older: true when `r`
  // is a failed write coming back).
  void add_locked(PublishedRanking&& r, bool older);
  void write(std::vector<PublishedRanking>& batch);

  const Config config_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<PublishedRanking> waiting_;
  std::unordered_map<std::string, size_t> slot_of_key_;  // key -> index in waiting_
  bool stopping_ = false;

  // The writer thread's own.
  std::optional<RedisConnection> redis_;
  RankingWriter writer_;

  mutable std::mutex stats_mutex_;
  RankingStats stats_;

  std::thread thread_;
};

}  // namespace streamrec::pipeline
