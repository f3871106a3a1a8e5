// What one consumed message changes in Redis (DESIGN.md, "Redis keys"):
// an event
//   sr:{u:<user>}:f  impressions|clicks|purchases += 1, ts = max(ts, event ts)
//   sr:{i:<item>}:f  impressions|clicks|purchases += 1
//   sr:pop           the item's decayed popularity grows by the type's weight
// a co-visit of items a and b (a click's, ranking/covisitation.h)
//   sr:{i:<a>}:cv    member b += 1, and sr:{i:<b>}:cv member a += 1; the
//                    writer trims each to its most co-visited members
//                    (rankings.covisit_redis_max_members,
//                    IdempotentWriter::cap_zsets)
// an item message
//   sr:{i:<item>}:f  category, brand, price, available (1 or 0) = the message's
//   sr:available     field <item> = available (1 or 0), the same flag for serve
// a forget tombstone (EventType::kForget)
//   every sr:{u:<user>}:* key (RedisKeys::user_keys) is deleted, marked like
//   the user's counters: exactly once, in order with the user's events
//
// The sr:pop score and its decay are core/popularity.h's.
//
// Marks: an event's effects on its user carry the partition's own source;
// those on items (the item's counters, sr:pop, co-visits) carry item_side(source),
// a mark of their own. Every partition's events touch the same items, and
// with marks of their own (which sort together, after the others) the
// writer sums them over all partitions into slices of their own, instead of
// writing every item again in each partition's slices.
//
// A pure function of its inputs; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/config.h"
#include "core/event.h"
#include "core/popularity.h"
#include "feature_store/idempotent_writer.h"
#include "feature_store/redis_keys.h"
#include "feature_store/state_writes.h"

namespace streamrec {

class FeatureEffects {
 public:
  FeatureEffects(RedisKeys keys, PopularityConfig popularity) : keys_(std::move(keys)), popularity_(popularity) {}

  // The mark of the item-side effects of events from `source`.
  static std::string item_side(std::string_view source) { return "~" + std::string(source); }

  // Adds the effects of `event`, consumed at (`source`, `offset`), to `batch`.
  void add(const Event& event, std::string_view source, int64_t offset, EffectBatch& batch) const;
  void add(const Item& item, std::string_view source, int64_t offset, EffectBatch& batch) const;

  // One co-visit of items `a` and `b`, found from the event consumed at
  // (`source`, `offset`): each gains one co-visit with the other.
  void add_covisit(std::string_view a, std::string_view b, std::string_view source, int64_t offset,
                   EffectBatch& batch) const {
    const std::string item_side_source = item_side(source);
    batch.add(keys_.item_covisits(a), item_side_source, offset, EffectOp::kZIncrement, b, 1);
    batch.add(keys_.item_covisits(b), item_side_source, offset, EffectOp::kZIncrement, a, 1);
  }
  // The user's recent clicks (JSON array, newest first) as the "recent"
  // field of their features, an effect with a mark like the counters.
  void add_recent_clicks(std::string_view user_id, std::string_view recent_json, std::string_view source,
                         int64_t offset, EffectBatch& batch) const {
    batch.set(keys_.user_features(user_id), source, offset, "recent", recent_json);
  }
  // The recomputed state of a forgotten user, deleted without a mark: its
  // rankings and explanations, and the emb and rec_ts fields of its
  // features (the caller orders it before what the user's later events
  // recompute: pipeline/stream_pipeline.h). A tombstone read again after a restart (its marked delete then
  // skipped) must still remove what the replayed events before it
  // recomputed; deleting recomputed state is harmless, the learner writes it
  // again when it next changes.
  void add_forget_recomputed(std::string_view user_id, StateWrites& state) const;
  // Recomputed state, overwritten whenever it changes (no marks): an
  // embedding row (the "emb" field, float32 little-endian), the sr:model
  // summary.
  void add_user_embedding(std::string_view user_id, std::string_view row, StateWrites& state) const {
    state.hset(keys_.user_features(user_id), {{"emb", row}});
  }
  void add_item_embedding(std::string_view item_id, std::string_view row, StateWrites& state) const {
    state.hset(keys_.item_features(item_id), {{"emb", row}});
  }
  void add_model_summary(std::span<const StateWrites::Field> fields, StateWrites& state) const {
    state.hset(keys_.model(), fields);
  }
  // A stats sample of the learner (apps/learn_command.cc), pushed on
  // sr:stats, which keeps the newest kStatsSamplesKept.
  static constexpr size_t kStatsSamplesKept = 360;
  void add_stats_sample(std::string_view sample_json, StateWrites& state) const {
    state.push_capped(keys_.stats(), sample_json, kStatsSamplesKept);
  }
  // The offset marks' key (idempotent_writer.h).
  std::string marks_key() const { return keys_.marks(); }

  double popularity_exponent(EventType type, int64_t ts_ms) const {
    return streamrec::popularity_exponent(popularity_, type, ts_ms);
  }

 private:
  RedisKeys keys_;
  PopularityConfig popularity_;
};

}  // namespace streamrec
