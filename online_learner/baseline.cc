#include "online_learner/baseline.h"

#include <algorithm>
#include <vector>

#include "online_learner/byte_io.h"

namespace streamrec::learner {

ItemRateBaseline::Score ItemRateBaseline::score(const std::string& item_id) const {
  double n = static_cast<double>(total_.impressions);
  double prior_click = (static_cast<double>(total_.clicks) + 1) / (n + 2);
  double prior_ctcvr = (static_cast<double>(total_.purchases) + 1) / (n + 2);
  Counts c;
  if (auto it = items_.find(item_id); it != items_.end()) c = it->second;
  double m = static_cast<double>(c.impressions) + a_;
  return {static_cast<float>((static_cast<double>(c.clicks) + a_ * prior_click) / m),
          static_cast<float>((static_cast<double>(c.purchases) + a_ * prior_ctcvr) / m)};
}

void ItemRateBaseline::update_click(const std::string& item_id, bool clicked) {
  for (Counts* c : {&total_, &items_[item_id]}) {
    c->impressions++;
    c->clicks += clicked;
  }
}

void ItemRateBaseline::update_purchase(const std::string& item_id, bool purchased) {
  if (!purchased) return;
  total_.purchases++;
  items_[item_id].purchases++;
}

void ItemRateBaseline::save(ByteWriter& out) const {
  std::vector<std::pair<std::string, Counts>> items(items_.begin(), items_.end());
  std::sort(items.begin(), items.end(), [](auto& a, auto& b) { return a.first < b.first; });
  out.u64(total_.impressions);
  out.u64(total_.clicks);
  out.u64(total_.purchases);
  out.u64(items.size());
  for (auto& [id, c] : items) {
    out.str(id);
    out.u64(c.impressions);
    out.u64(c.clicks);
    out.u64(c.purchases);
  }
}

bool ItemRateBaseline::load(ByteReader& in) {
  total_.impressions = in.u64();
  total_.clicks = in.u64();
  total_.purchases = in.u64();
  uint64_t n = in.u64();
  items_.clear();
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    std::string id = in.str();
    Counts c;
    c.impressions = in.u64();
    c.clicks = in.u64();
    c.purchases = in.u64();
    items_[id] = c;
  }
  return in.ok();
}

}  // namespace streamrec::learner
