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
  }
  return "unknown";
}
}  // namespace

void FeatureEffects::add(const Event& event, std::string_view source, int64_t offset, EffectBatch& batch) const {
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
}

}  // namespace streamrec
