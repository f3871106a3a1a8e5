// Reads what to show a user: their ranking (sr:{u:<id>}:rec, source
// "personal"), or the most popular items (sr:pop, source "popular") when
// they have none, without the items that are no longer available
// (sr:{i:<id>}:f available = 0), with the model version and the ranking's
// age; asked to explain, with why each personal item is ranked (the
// learner's sr:{u:<id>}:why, one more round trip). Key names come from
// feature_store/RedisKeys.
//
// Threads: const and stateless beyond the keys; call from any thread, each
// with its own connection. Errors: a Redis failure is an Error; the
// connection may then be broken() (RedisPool drops it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "feature_store/redis_connection.h"
#include "feature_store/redis_keys.h"

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
  explicit RecommendationReader(RedisKeys keys) : keys_(std::move(keys)) {}

  // The best `k` available items for `user_id`: from the user's ranking if
  // it has any member, else from sr:pop. Fewer than k when fewer are left.
  // `explain`: also each personal item's explanation.
  Result<Recommendations> read(RedisConnection& redis, std::string_view user_id, size_t k,
                               bool explain = false) const;

 private:
  static size_t first_window(size_t k);
  // Appends to `out` the available ones of `candidates` (the first window
  // of `zset`), then of further, doubling windows, until `k` are kept or
  // the set ends.
  Status read_available(RedisConnection& redis, const std::string& zset, std::vector<Recommendation> candidates,
                        size_t k, std::vector<Recommendation>& out) const;
  // One round trip: the items' `available` fields; appends the available.
  Status keep_available(RedisConnection& redis, std::vector<Recommendation>& candidates, size_t k,
                        std::vector<Recommendation>& out) const;

  const RedisKeys keys_;
};

}  // namespace streamrec::serving
