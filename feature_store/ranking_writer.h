// Writes per-user rankings, sr:{u:<id>}:rec (ZSET item_id -> score, top-K),
// so that a reader never sees half of one: each user's ranking is replaced by
// one Lua script (DEL + ZADD), atomic in Redis. Many users go in one
// pipelined round trip.
//
// Rankings are recomputed state, not counted effects: writing the same
// ranking again is harmless, so no offset marks are needed. Members are sent
// in descending score order, the order that measured fastest into a fresh
// listpack-encoded ZSET (docs/performance.md). Not thread-safe.
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
};

class RankingWriter {
 public:
  // Queues the replacement of each ranking on `redis` (pipelined, not sent).
  void append(RedisConnection& redis, const std::vector<Ranking>& rankings);
  // Sends everything queued and checks the replies.
  Status flush(RedisConnection& redis);
  // append + flush.
  Status write(RedisConnection& redis, const std::vector<Ranking>& rankings);

 private:
  Status load_script(RedisConnection& redis);
  std::string sha_;
  std::vector<std::vector<std::string>> queued_;  // argument lists, for a retry after NOSCRIPT
};

}  // namespace streamrec
