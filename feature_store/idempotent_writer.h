// Exactly-once effects on Redis from an at-least-once stream.
//
// Kafka may deliver a message again (a crash before the commit, a rebalance),
// so every effect carries where its message came from: a source
// ("events/3", topic/partition) and an offset. Beside each data key Redis
// keeps the offset marks of that key (RedisKeys::marks_for): the highest
// offset per source already applied to it. One Lua script applies all of a
// key's effects of a batch atomically and skips those at or below the mark.
// Because a source's offsets reach a key in increasing order, a mark m means
// "every effect up to m is in", so replaying any suffix of the stream changes
// nothing that was already applied.
//
// EffectBatch is a plain value (not thread-safe). IdempotentWriter::apply is
// all-or-error: on an Error some keys may be written, and applying the same
// batch again (after reconnecting) completes it without doubling anything.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "feature_store/redis_connection.h"

namespace streamrec {

enum class EffectOp : uint8_t {
  kIncrement,  // HASH field += amount (an integer)
  kMax,        // HASH field = max(field, amount)
  kLogAdd,     // ZSET member score = log2(2^score + 2^amount)
  kSet,        // HASH field = value (the latest message wins)
};

class EffectBatch {
 public:
  // Adds an effect on `key` of the message at (`source`, `offset`): a
  // numeric one (kIncrement, kMax, kLogAdd), or a kSet of a text value.
  void add(std::string_view key, std::string_view source, int64_t offset, EffectOp op, std::string_view field,
           double amount);
  void set(std::string_view key, std::string_view source, int64_t offset, std::string_view field,
           std::string_view value);

  size_t keys() const { return order_.size(); }
  size_t effects() const { return effects_; }
  bool empty() const { return effects_ == 0; }
  void clear();

 private:
  friend class IdempotentWriter;
  struct Entry {
    std::string source;
    int64_t offset;
    EffectOp op;
    std::string field;
    std::string argument;  // the amount, formatted, or the value to set
  };
  void push(std::string_view key, Entry entry);
  std::unordered_map<std::string, std::vector<Entry>> by_key_;
  std::vector<const std::string*> order_;  // keys in first-touch order
  size_t effects_ = 0;
};

class IdempotentWriter {
 public:
  // `keys_per_call` bounds one script call (its atomic unit and its latency).
  explicit IdempotentWriter(size_t keys_per_call = 64) : keys_per_call_(keys_per_call) {}

  // Applies `batch` in one pipelined round trip. Loads the script on first
  // use and again if Redis forgot it (restart, SCRIPT FLUSH).
  Status apply(RedisConnection& redis, const EffectBatch& batch);

 private:
  Status load_script(RedisConnection& redis);

  size_t keys_per_call_;
  std::string sha_;
};

}  // namespace streamrec
