// Writes users' rankings (sr:{u:<id>}:rec, through RankingWriter) on a
// thread of its own (an AsyncWriter, feature_store/async_writer.h), so that
// the model's thread never waits for Redis: it ranks the next users while
// Redis stores the last ones.
//
// Rankings are recomputed state: only the newest one of a user matters. A
// ranking submitted while an older one of the same user still waits replaces
// it (keeping the older one's request time, so freshness counts the whole
// wait). A write Redis does not acknowledge is counted and tried again after
// a pause, unless a newer ranking of that user came meanwhile. At most
// kMaxWaiting users wait; submit() blocks beyond that (Redis slower than
// ranking holds the model's thread back instead of filling memory).
//
// Ownership and threads: owns its thread and its Redis connection.
// submit() and stats() may be called from any thread. The destructor writes
// what waits, one attempt, then stops: rankings Redis refuses then are
// dropped (Redis may be gone for good, and they are recomputed on the next
// run).
//
// Freshness is measured per ranking acknowledged by Redis: from the Kafka
// timestamp of the oldest event that asked for it.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/latency_histogram.h"
#include "feature_store/async_writer.h"
#include "feature_store/ranking_writer.h"
#include "feature_store/redis_keys.h"

namespace streamrec {

struct RankingStats {
  int64_t rankings_written = 0;
  int64_t rankings_skipped = 0;  // users the model knew nothing of yet (they read sr:pop); counted by the caller
  int64_t ranking_write_failures = 0;
  LatencyHistogram freshness_ms;
  LatencyHistogram write_ms;  // each acknowledged round trip (up to 64 rankings), ms
};

// A user's ranking to write, with the Kafka timestamp of the oldest event
// that asked for it (-1: not measured), and why each item is in it.
struct UserRanking {
  std::string user_id;
  std::vector<std::pair<std::string, double>> items;  // item_id, score
  int64_t asked_at_kafka_ms = -1;
  std::vector<std::string> why = {};  // empty, or one explanation (ranking/explanation.h) per item of `items`, in its order
};

class AsyncRankingWriter {
 public:
  // `prefix`: the Redis key prefix (redis.prefix); `user_ttl_s`: the
  // user keys' expiry (redis.user_ttl_s, 0 = none).
  AsyncRankingWriter(std::string redis_url, int timeout_ms, std::string prefix, int64_t user_ttl_s = 0);
  ~AsyncRankingWriter();
  AsyncRankingWriter(const AsyncRankingWriter&) = delete;
  AsyncRankingWriter& operator=(const AsyncRankingWriter&) = delete;

  // Queues `rankings` (moved from, left empty) to be written.
  void submit(std::vector<UserRanking>& rankings);
  // Drops the ranking of `user_id` waiting to be written, after the write in
  // flight (which may hold one) is acknowledged or failed: afterwards
  // nothing of this user reaches Redis unless submitted again. For
  // forgetting a user; blocks for at most one round trip.
  void erase_user(const std::string& user_id) { erase_users({user_id}); }
  void erase_users(const std::vector<std::string>& user_ids);  // one wait for all
  // Written, failed and freshness so far (rankings_skipped is not counted here).
  RankingStats stats() const;

 private:
  // A ranking waiting, or being written.
  struct Pending {
    Ranking ranking;
    int64_t asked_at_kafka_ms = -1;
  };
  // Adds `r` unless a newer ranking of its key waits (older: true when `r`
  // is a failed write coming back). Under thread_.mutex().
  void add_locked(Pending&& r, bool older);
  // The AsyncWriter's steps, on its thread.
  void write(RedisLink& redis);
  bool finish(bool stopping);

  const RedisKeys keys_;

  // Under thread_.mutex():
  bool writing_ = false;  // between take and finish: batch_ is the thread's
  std::vector<Pending> waiting_;
  std::unordered_map<std::string, size_t> slot_of_key_;  // key -> index in waiting_

  // The writer thread's own.
  std::vector<Pending> batch_;  // taken from waiting_; what failed, after write()
  RankingWriter writer_;

  mutable std::mutex stats_mutex_;
  RankingStats stats_;

  // Last: stopped first, before what its steps use goes.
  AsyncWriter thread_;
};

}  // namespace streamrec
