// Exactly-once effects on Redis from an at-least-once stream.
//
// Contract: write() applies an EffectBatch so that every effect is in Redis
// exactly once, however often its message is delivered. It is
// all-or-error: on an Error some slices may be in, and writing the same
// batch again (after reconnecting) completes it without doubling anything.
// EffectBatch is a plain value (not thread-safe). IdempotentWriter is not
// thread-safe either (one per connection; AsyncEffectsWriter runs one on its
// own thread). All keys of a slice go to one Redis node: standalone Redis,
// not Cluster.
//
// Kafka may deliver a message again (a crash before the commit, a rebalance),
// so every effect carries where its message came from: a source
// ("<cluster>/events/3": cluster, topic, partition) and an offset. Redis keeps
// one offset mark per source in one hash (RedisKeys::marks(), "sr:marks"):
// the highest offset whose effects are all in. A source's offsets arrive in
// increasing order, so a mark m means "every effect up to m is in, none
// after", and replaying any suffix of the stream changes nothing that was
// already applied.
//
// How a batch is written: the writer knows each source's mark (read once
// with HMGET, then kept), drops the effects at or below it, sums up the rest
// per key and field (increments add, ZSET increments too, max keeps the
// largest, popularity adds in log space, a set keeps the latest), and sends them in slices of at most
// `keys_per_call` keys, cut between messages. Sources are taken in name
// order, and a slice goes on from one source to the next: it holds a run of
// messages of each source it advances, and a key several sources touch is
// summed over all of them (events are keyed by user, so a user's key is
// summed over the whole batch). Each slice is one Lua script
// that first checks every mark it advances still holds the value the writer
// expects (compare-and-set), then reads what it must, and only then writes
// the values and the new marks -- all or nothing, as Redis does not roll back
// a failed script. A mark that moved (another learner wrote the partition,
// e.g. around a rebalance) fails the slice; the writer re-reads the marks and
// redoes the batch once more, so nothing is applied twice.
//
// Why this shape: summing per key first makes one HMGET + one HSET per key
// and slice, whatever the number of events on it; one mark per source, not
// per key, keeps the marks out of the way. Slices bound how long one script
// blocks Redis (apps read rankings from it meanwhile): 16-18 ms for 4096 keys
// at 50k events/s (docs/redis-keys.md).
//
// A slice bounds its keys, not their fields: one key may carry tens of
// thousands (sr:pop, a member per item of the slice). The script hands them
// to Redis 1000 at a time, since Lua's unpack() fails past a few thousand.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
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
  kZIncrement, // ZSET member score += amount (an integer)
  kDelete,     // DEL the key (field and amount unused): the key's effects before it in the batch are
               // dropped, those after it start from nothing (a forgotten user, docs/redis-keys.md)
};

class EffectBatch {
 public:
  // Adds an effect on `key` of the message at (`source`, `offset`): a
  // numeric one (kIncrement, kMax, kLogAdd), or a kSet of a text value. The
  // effects of one message are added one after another, and a source's
  // messages in increasing offset order.
  void add(std::string_view key, std::string_view source, int64_t offset, EffectOp op, std::string_view field,
           double amount);
  void set(std::string_view key, std::string_view source, int64_t offset, std::string_view field,
           std::string_view value);
  // Deletes `key` (EffectOp::kDelete), as the effect of the message at (`source`, `offset`).
  void erase_key(std::string_view key, std::string_view source, int64_t offset) {
    add(key, source, offset, EffectOp::kDelete, "", 0);
  }

  // Adds `more`'s effects after these (moved whole when this is empty);
  // `more` is left empty.
  void append(EffectBatch&& more);

  size_t effects() const { return effects_.size(); }
  bool empty() const { return effects_.empty(); }
  void clear();

 private:
  friend class IdempotentWriter;
  struct Effect {
    uint32_t source;  // index into sources_
    uint32_t key;     // index into keys_
    int64_t offset;
    EffectOp op;
    std::string field;
    double amount = 0;
    std::string text;  // kSet's value
  };
  // Looked up by string_view: no std::string is built for a name seen before
  // (every effect of every event comes through here).
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
  };
  using NameIndex = std::unordered_map<std::string, uint32_t, NameHash, std::equal_to<>>;
  uint32_t intern(std::vector<std::string>& names, NameIndex& index,
                  std::string_view name);

  std::vector<Effect> effects_;
  std::vector<std::string> sources_, keys_;
  NameIndex source_index_, key_index_;
};

class IdempotentWriter {
 public:
  // `marks_key`: the hash of offset marks (RedisKeys::marks()).
  // `keys_per_call` bounds one script call (its atomic unit and how long it
  // blocks Redis).
  explicit IdempotentWriter(std::string marks_key, size_t keys_per_call = 4096)
      : marks_key_(std::move(marks_key)), keys_per_call_(keys_per_call) {}

  // Every key whose name starts with `user_key_start` (RedisKeys'
  // user_key_start(): the user keys) is set to expire `ttl_s` seconds after
  // a write that changed it, in the same script (redis.user_ttl_s); 0: never.
  void expire_user_keys(std::string user_key_start, int64_t ttl_s) {
    user_key_start_ = std::move(user_key_start);
    user_ttl_s_ = ttl_s;
  }
  // Every ZSET key whose name ends with `key_end` (RedisKeys'
  // item_covisits_end(): the co-visit keys) keeps at most
  // zset_trim_above(max_members) members after a write that changed it: in
  // the same script, once a key holds more, its lowest-scored members
  // (ties: the lexicographically smallest) are removed down to
  // `max_members` (rankings.covisit_redis_max_members); 0: unbounded.
  //
  // Why trim only past a slack above the bound: a member new to a full key
  // has the lowest score (its first co-visits), so trimming at the bound
  // itself would remove every newcomer in the script that added it, and
  // the key's members could never change again. With the slack a newcomer
  // has until a quarter of the bound more have come to earn its place. And
  // a full key is trimmed once per that many newcomers, not on each:
  // between trims a write costs the key one ZCARD, O(1).
  //
  // Exactly once still: the trim runs only in a script that applies new
  // effects, after them, and depends only on the key's contents then; a
  // replayed message's effects are skipped before any script touches the
  // key. What survives a trim does depend on how the effects were cut into
  // writes, so a member's count is exact only while it has never been
  // trimmed (one trimmed and co-visited again starts from its new co-visits).
  void cap_zsets(std::string key_end, int64_t max_members) {
    capped_key_end_ = std::move(key_end);
    capped_max_members_ = max_members;
  }
  // The most members a key capped at `max_members` keeps between writes.
  static int64_t zset_trim_above(int64_t max_members) { return max_members + std::max<int64_t>(1, max_members / 4); }

  // Applies `batch` in one pipelined round trip (plus one to read the marks
  // of sources it has not seen yet). Loads the script on first use and again
  // if Redis forgot it (restart, SCRIPT FLUSH).
  Status write(RedisConnection& redis, const EffectBatch& batch);

  // Forgets the marks it knows; the next write() reads them again. For
  // whoever learns the marks may have moved (e.g. partitions reassigned).
  void forget_marks() { marks_.clear(); }
  // Redis must hold a mark for `source` (Kafka has offsets committed after
  // its effects were written).
  void expect_mark(const std::string& source);

  // Marks only move forward. A mark read back lower than one Redis held
  // before (or missing where one is expected) means Redis lost data -- a
  // FLUSHALL, a restart without persistence, a rollback to an older
  // snapshot -- and write() returns a fatal Error naming the source rather
  // than going on with counters that silently lack those effects.

 private:
  // One script call: its arguments, and the marks it leaves when it succeeds.
  struct Call {
    std::vector<std::string> args;  // EVALSHA <sha> numkeys KEYS... ARGV...
    std::map<std::string, int64_t> marks;
  };
  Status load_script(RedisConnection& redis);
  Status read_marks(RedisConnection& redis, const EffectBatch& batch);
  void raise_floor(const std::string& source, int64_t mark);
  std::vector<Call> slices(const EffectBatch& batch) const;

  std::string marks_key_;
  size_t keys_per_call_;
  std::string user_key_start_;
  int64_t user_ttl_s_ = 0;
  std::string capped_key_end_;
  int64_t capped_max_members_ = 0;
  std::string sha_;
  std::map<std::string, int64_t> marks_;  // source -> its mark in Redis (-1: none yet)
  std::map<std::string, int64_t> floor_;  // source -> the highest mark Redis has held (never forgotten)
};

}  // namespace streamrec
