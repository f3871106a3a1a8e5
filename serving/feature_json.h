// Reads a user's or an item's features hash (sr:{u:<id>}:f, sr:{i:<id>}:f,
// docs/redis-keys.md) and renders it as one JSON object: counters and
// times as integers, price as a number, available as a boolean, recent as
// the JSON array it holds, emb (float32 little-endian bytes) as an array of
// numbers; any other field as a string.
//
// Threads: const; call from any thread with its own connection. Errors: a
// Redis failure is an Error; a key that does not exist is std::nullopt.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "feature_store/redis_connection.h"
#include "feature_store/redis_keys.h"

namespace streamrec::serving {

class FeatureReader {
 public:
  explicit FeatureReader(RedisKeys keys) : keys_(std::move(keys)) {}

  // {"user_id": ..., <fields>}, or nullopt when Redis has nothing of the user.
  Result<std::optional<std::string>> user(RedisConnection& redis, std::string_view user_id) const;
  // {"item_id": ..., <fields>}, or nullopt when Redis has nothing of the item.
  Result<std::optional<std::string>> item(RedisConnection& redis, std::string_view item_id) const;

 private:
  Result<std::optional<std::string>> read(RedisConnection& redis, const std::string& key, std::string_view id_field,
                                          std::string_view id) const;

  const RedisKeys keys_;
};

// `bytes` (float32 little-endian) as a JSON array; null when its length is
// not a multiple of 4. Exposed for the tests.
std::string embedding_json(std::string_view bytes);

}  // namespace streamrec::serving
