#include "feature_store/feature_effects.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace streamrec {
namespace {
std::string_view counter_field(EventType type) {
  switch (type) {
    case EventType::kImpression: return "impressions";
    case EventType::kClick: return "clicks";
    case EventType::kPurchase: return "purchases";
    case EventType::kForget: break;
  }
  return "unknown";
}
}  // namespace

void FeatureEffects::add(const Event& event, std::string_view source, int64_t offset, EffectBatch& batch) const {
  if (event.type == EventType::kForget) {
    for (const std::string& key : keys_.user_keys(event.user_id)) batch.erase_key(key, source, offset);
    return;
  }
  std::string_view field = counter_field(event.type);
  std::string user = keys_.user_features(event.user_id);
  batch.add(user, source, offset, EffectOp::kIncrement, field, 1);
  batch.add(user, source, offset, EffectOp::kMax, "ts", static_cast<double>(event.ts_ms));
  const std::string item_side_source = item_side(source);
  batch.add(keys_.item_features(event.item_id), item_side_source, offset, EffectOp::kIncrement, field, 1);
  double exponent = popularity_exponent(event.type, event.ts_ms);
  if (std::isfinite(exponent))
    batch.add(keys_.popularity(), item_side_source, offset, EffectOp::kLogAdd, event.item_id, exponent);
}

void FeatureEffects::add_forget_recomputed(std::string_view user_id, StateWrites& state) const {
  const std::string features = keys_.user_features(user_id);
  for (const std::string& key : keys_.user_keys(user_id))
    if (key != features) state.del(key);
  state.hdel(features, {"emb", "rec_ts"});
}

}  // namespace streamrec

namespace streamrec {

void FeatureEffects::add(const Item& item, std::string_view source, int64_t offset, EffectBatch& batch) const {
  std::string key = keys_.item_features(item.item_id);
  char price[32];
  auto [end, ec] = std::to_chars(price, price + sizeof price, item.price);
  batch.set(key, source, offset, "category", item.category);
  batch.set(key, source, offset, "brand", item.brand);
  batch.set(key, source, offset, "price", std::string_view(price, end - price));
  batch.set(key, source, offset, "available", item.available ? "1" : "0");
  // The same flag in one hash of all items, in the same write (same mark):
  // a reader checks a whole ranking with one HMGET instead of one HGET per item.
  batch.set(keys_.availability(), source, offset, item.item_id, item.available ? "1" : "0");
}

}  // namespace streamrec
