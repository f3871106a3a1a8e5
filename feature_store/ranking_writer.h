// Writes per-user rankings, sr:{u:<id>}:rec (ZSET item_id -> score, top-K),
// so that a reader never sees half of one: each user's ranking is replaced by
// MULTI DEL ZADD EXEC, atomic in Redis. Many users go in one pipelined round
// trip. When a ranking names its user's features hash (`stamp_key`), the same
// MULTI sets that hash's `rec_ts` to the time of the write (ms since the
// epoch), so a reader can tell how old the ranking is. When it names its
// explanations hash (`why_key`), the same MULTI replaces that hash with
// `why` (item_id -> explanation), so explanations never outlive their
// ranking: no `why`, no hash.
//
// Rankings are recomputed state, not counted effects: writing the same
// ranking again is harmless, so no offset marks are needed. MULTI measured
// cheaper than a Lua script doing the same (about 0.5 µs of Redis CPU per
// member less), and members go in descending score order, 3-4x faster than
// ascending into a fresh listpack ZSET (docs/performance.md, "Ranking
// writes"). Not thread-safe.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "feature_store/redis_connection.h"

namespace streamrec {

struct Ranking {
  std::string key;                                    // sr:{u:<id>}:rec
  std::vector<std::pair<std::string, double>> items;  // item_id, score; any order
  std::string stamp_key;                              // sr:{u:<id>}:f gets rec_ts; "" = none
  std::string why_key = {};                           // sr:{u:<id>}:why, replaced; "" = none
  std::vector<std::string> why = {};                  // empty, or one per item of `items`, in its order
};

class RankingWriter {
 public:
  // With `user_ttl_s` > 0 (redis.user_ttl_s) the same MULTI also sets each
  // written key to expire that many seconds later.
  explicit RankingWriter(int64_t user_ttl_s = 0) : user_ttl_s_(user_ttl_s) {}
  // Replaces each ranking, in one pipelined round trip.
  Status write(RedisConnection& redis, const std::vector<Ranking>& rankings);

 private:
  int64_t user_ttl_s_;
};

}  // namespace streamrec
