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
  if (const Counts* counts = items_.find(item_id)) c = *counts;
  double m = static_cast<double>(c.impressions) + a_;
  return {static_cast<float>((static_cast<double>(c.clicks) + a_ * prior_click) / m),
          static_cast<float>((static_cast<double>(c.purchases) + a_ * prior_ctcvr) / m)};
}

ItemRateBaseline::Counts& ItemRateBaseline::counts_of(const std::string& item_id) {
  Counts& counts = items_.touch(item_id);
  while (items_.size() > max_items_) {  // never `counts`: it is the most recent
    items_.pop_least_recent();
    ++evicted_items_;
  }
  return counts;
}

void ItemRateBaseline::update_click(const std::string& item_id, bool clicked) {
  for (Counts* c : {&total_, &counts_of(item_id)}) {
    c->impressions++;
    c->clicks += clicked;
  }
}

void ItemRateBaseline::update_purchase(const std::string& item_id, bool purchased) {
  if (!purchased) return;
  total_.purchases++;
  counts_of(item_id).purchases++;
}

void ItemRateBaseline::save(ByteWriter& out) const {
  out.u64(total_.impressions);
  out.u64(total_.clicks);
  out.u64(total_.purchases);
  // Least recently counted first: load() touches them back in this order.
  // (Checkpoints written before the bound existed list them by id.)
  out.u64(items_.size());
  items_.for_each_oldest_first([&](const std::string& id, const Counts& c) {
    out.str(id);
    out.u64(c.impressions);
    out.u64(c.clicks);
    out.u64(c.purchases);
  });
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
    items_.touch(id) = c;
  }
  while (items_.size() > max_items_) items_.pop_least_recent();  // saved with a larger bound
  return in.ok();
}

}  // namespace streamrec::learner
