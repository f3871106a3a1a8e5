// Turns a Sample into feature keys (DESIGN.md, "Model"): one 64-bit key per
// categorical field, and the item keys of the user's recent-click bag.
//
// Fields, in order: user_id, item_id, category, bucketed log price, each
// configured context key, then (when recent_clicks > 0) the bag, whose
// embedding is the mean of its items' item_id embeddings. A missing value
// is a value of its own (""), so "no category" is learnable. Keys come from
// core/hash.h feature_key and never change between releases.
//
// The keys split by side: the item fields depend on the item alone
// (item_keys()), the others on the user and the moment (encode_user()), so a
// ranking encodes each item once per catalog change and its user once,
// instead of every (user, item) pair; encode() is the two together.
// Immutable after construction; safe to share across threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "online_learner/catalog.h"
#include "online_learner/sample.h"

namespace streamrec::learner {

// The item side of a sample's keys: its item_id, category and price fields.
struct ItemKeys {
  uint64_t item = 0, category = 0, price = 0;
};

class FeatureEncoder {
 public:
  // Positions of the single-valued fields in the keys and in the model's input.
  enum Field : uint32_t { kUser = 0, kItem = 1, kCategory = 2, kPrice = 3, kFirstContext = 4 };

  FeatureEncoder(std::vector<std::string> context_fields, bool recent_bag);

  // Single-valued fields (excluding the bag), and all fields.
  int single_fields() const { return 4 + static_cast<int>(context_fields_.size()); }
  int fields() const { return single_fields() + (recent_bag_ ? 1 : 0); }
  bool has_bag() const { return recent_bag_; }
  std::vector<std::string> field_names() const;

  // Writes single_fields() keys to `keys`, and appends the bag's item keys.
  void encode(const Sample& s, const Catalog& catalog, uint64_t* keys, std::vector<uint64_t>& bag) const;
  // The user side of encode(): writes the user and context slots of `keys`
  // (leaving the item slots alone), and appends the bag's item keys.
  void encode_user(std::string_view user_id, const std::vector<ContextFeature>& context,
                   const std::vector<std::string>& recent_clicks, uint64_t* keys, std::vector<uint64_t>& bag) const;
  // The item side of encode(); `item` is the catalog's entry for `item_id`,
  // nullptr when there is none.
  static ItemKeys item_keys(std::string_view item_id, const Item* item);

  static uint64_t user_key(std::string_view user_id);
  static uint64_t item_key(std::string_view item_id);
  static int price_bucket(double price);

 private:
  std::vector<std::string> context_fields_;
  bool recent_bag_;
};

// Splits "a,b,c" into its non-empty parts.
std::vector<std::string> split_list(const std::string& s);

}  // namespace streamrec::learner
