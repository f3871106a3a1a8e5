// Reads what to show a user: their ranking (sr:{u:<id>}:rec, source
// "personal"), or the most popular items (sr:pop, source "popular") when
// they have none, without the items that are no longer available, with the
// model version and the ranking's age; asked to explain, with why each
// personal item is ranked (the learner's sr:{u:<id>}:why). Key names come
// from feature_store/RedisKeys.
//
// One round trip, one command: a read-only Lua script (EVALSHA, loaded with
// EVAL when Redis lacks it) reads the ranking's first window, checks it
// against sr:available in one HMGET (an item missing there: its hash's
// `available`, sr:{i:<id>}:f, as written before sr:available existed), reads
// further, doubling windows only while too few are left, and returns the
// items with rec_ts, the model and the explanations. So a reader sees one
// moment of Redis, never a ranking from one write and `available` from
// another. The script touches keys of several hash slots: like the learner's
// writes, it needs a standalone Redis (docs/redis-keys.md).
//
// Threads: const and stateless beyond the keys; call from any thread, with
// that thread's AsyncRedis. Errors: a Redis failure (no connection, an error
// reply, a reply not of the script) is an Error given to `done`.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "feature_store/redis_keys.h"
#include "serving/async_redis.h"

namespace streamrec::serving {

struct Recommendation {
  std::string item_id;
  double score = 0;  // the ranking's score; for "popular", the log2 popularity of docs/redis-keys.md
  std::optional<std::string> why;  // explain: the learner's explanation as JSON (explanation_json.h), if any
};

struct Recommendations {
  std::string source;                       // "personal" or "popular"
  std::vector<Recommendation> items;        // best first, at most k, every one available
  std::optional<int64_t> model_version;     // sr:model version; none before the learner wrote one
  std::optional<int64_t> model_updated_ms;  // sr:model updated_ts
  std::optional<int64_t> ranked_at_ms;      // when the ranking was written (sr:{u:<id>}:f rec_ts); personal only
};

class RecommendationReader {
 public:
  explicit RecommendationReader(RedisKeys keys);

  using Done = std::function<void(Result<Recommendations>)>;

  // The best `k` available items for `user_id`: from the user's ranking if
  // it has any member, else from sr:pop. Fewer than k when fewer are left.
  // `explain`: also each personal item's explanation. `done` is called once,
  // on `redis`'s thread, when the answer is there.
  void read(AsyncRedis& redis, std::string_view user_id, size_t k, bool explain, Done done) const;

  // The Lua script and its SHA1 (what EVALSHA names it by).
  static std::string_view script();
  const std::string& script_sha() const { return sha_; }

 private:
  static size_t first_window(size_t k);
  // The read script's reply (checked to have its shape) as Recommendations.
  static Recommendations parse(const redisReply* reply);
  // Sends the read script by its SHA1 or, after NOSCRIPT, in full. EVALSHA/EVAL <sha or script> 6.
  void send(AsyncRedis& redis, bool by_sha, std::string user_id, size_t k, bool explain, Done done) const;

  const RedisKeys keys_;
  const std::string sha_;
  const std::string model_key_, popularity_key_, availability_key_;
  std::string item_key_start_, item_key_end_;  // an item's hash name around its id: sr:{i: and }:f
};

}  // namespace streamrec::serving
