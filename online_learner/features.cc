#include "online_learner/features.h"

#include <charconv>
#include <cmath>

#include "core/hash.h"

namespace streamrec::learner {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == ',') {
      if (i > start) out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

FeatureEncoder::FeatureEncoder(std::vector<std::string> context_fields, bool recent_bag)
    : context_fields_(std::move(context_fields)), recent_bag_(recent_bag) {}

std::vector<std::string> FeatureEncoder::field_names() const {
  std::vector<std::string> names = {"user_id", "item_id", "category", "price"};
  for (auto& c : context_fields_) names.push_back("context." + c);
  if (recent_bag_) names.push_back("recent_clicks");
  return names;
}

uint64_t FeatureEncoder::user_key(std::string_view user_id) { return feature_key(kUser, user_id); }
uint64_t FeatureEncoder::item_key(std::string_view item_id) { return feature_key(kItem, item_id); }

int FeatureEncoder::price_bucket(double price) {
  if (!(price > 0)) return 0;
  return 1 + static_cast<int>(std::floor(2 * std::log2(1 + price)));
}

void FeatureEncoder::encode(const Sample& s, const Catalog& catalog, uint64_t* keys, std::vector<uint64_t>& bag) const {
  encode_user(s.user_id, s.context, s.recent_clicks, keys, bag);
  ItemKeys item = item_keys(s.item_id, catalog.find(s.item_id));
  keys[kItem] = item.item;
  keys[kCategory] = item.category;
  keys[kPrice] = item.price;
}

void FeatureEncoder::encode_user(std::string_view user_id, const std::vector<ContextFeature>& context,
                                 const std::vector<std::string>& recent_clicks, uint64_t* keys,
                                 std::vector<uint64_t>& bag) const {
  keys[kUser] = user_key(user_id);
  for (size_t c = 0; c < context_fields_.size(); ++c) {
    std::string_view value = "";
    for (const ContextFeature& f : context)
      if (f.key == context_fields_[c]) value = f.value;
    keys[kFirstContext + c] = feature_key(static_cast<uint32_t>(kFirstContext + c), value);
  }
  if (recent_bag_)
    for (const std::string& r : recent_clicks) bag.push_back(item_key(r));
}

ItemKeys FeatureEncoder::item_keys(std::string_view item_id, const Item* item) {
  // The bucket in decimal, as std::to_string spells it, without building a string.
  char digits[16];
  std::string_view price = "missing";
  if (item) price = {digits, std::to_chars(digits, digits + sizeof digits, price_bucket(item->price)).ptr};
  return ItemKeys{
      item_key(item_id),
      feature_key(kCategory, item ? item->category : std::string_view("\x01missing")),
      feature_key(kPrice, price),
  };
}

}  // namespace streamrec::learner
