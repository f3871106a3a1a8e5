// Turns a Sample into feature keys (DESIGN.md, "Model"): one 64-bit key per
// categorical field, and the item keys of the user's recent-click bag.
//
// Fields, in order: user_id, item_id, category, bucketed log price, each
// configured context key, then (when recent_clicks > 0) the bag, whose
// embedding is the mean of its items' item_id embeddings. A missing value
// is a value of its own (""), so "no category" is learnable. Keys come from
// core/hash.h feature_key and never change between releases.
// Immutable after construction; safe to share across threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "online_learner/catalog.h"
#include "online_learner/sample.h"

namespace streamrec::learner {

class FeatureEncoder {
 public:
  FeatureEncoder(std::vector<std::string> context_fields, bool recent_bag);

  // Single-valued fields (excluding the bag), and all fields.
  int single_fields() const { return 4 + static_cast<int>(context_fields_.size()); }
  int fields() const { return single_fields() + (recent_bag_ ? 1 : 0); }
  bool has_bag() const { return recent_bag_; }
  std::vector<std::string> field_names() const;

  // Writes single_fields() keys to `keys`, and appends the bag's item keys.
  void encode(const Sample& s, const Catalog& catalog, uint64_t* keys, std::vector<uint64_t>& bag) const;

  static uint64_t user_key(const std::string& user_id);
  static uint64_t item_key(const std::string& item_id);
  static int price_bucket(double price);

 private:
  std::vector<std::string> context_fields_;
  bool recent_bag_;
};

// Splits "a,b,c" into its non-empty parts.
std::vector<std::string> split_list(const std::string& s);

}  // namespace streamrec::learner
