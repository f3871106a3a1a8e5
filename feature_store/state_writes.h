// Hash fields to overwrite in Redis: recomputed state (embeddings, the model
// summary sr:model) that is written as is, not summed like effects. Writes
// keep their order, so after a failed write is retried ahead of newer ones
// the newest value of every field wins.
//
// A plain value (not thread-safe). write() is one pipelined round trip.
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "feature_store/redis_connection.h"

namespace streamrec {

class StateWrites {
 public:
  using Field = std::pair<std::string_view, std::string_view>;  // name, value (any bytes)

  // HSET key name value [name value ...], after the writes added before.
  void hset(std::string_view key, std::span<const Field> fields);
  void hset(std::string_view key, std::initializer_list<Field> fields) {
    hset(key, std::span<const Field>(fields.begin(), fields.size()));
  }
  // DEL key; HDEL key field [field ...].
  void del(std::string_view key) { commands_.push_back({"DEL", std::string(key)}); }
  void hdel(std::string_view key, std::initializer_list<std::string_view> fields);
  // LPUSH key value, then LTRIM key 0 keep-1: a list of the newest `keep`.
  // Written again after a failure, the value is pushed twice.
  void push_capped(std::string_view key, std::string_view value, size_t keep);
  // Adds `newer`'s writes after these; `newer` is left empty.
  void append(StateWrites&& newer);

  size_t size() const { return commands_.size(); }
  bool empty() const { return commands_.empty(); }
  void clear() { commands_.clear(); }

  // Sends every write and reads their replies in one round trip. An I/O
  // failure or an error reply is an Error (naming the first refused key);
  // writing the same writes again is harmless.
  Status write(RedisConnection& redis) const;

 private:
  std::vector<std::vector<std::string>> commands_;  // each: a command and its arguments
};

}  // namespace streamrec
