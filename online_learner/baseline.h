// The per-item rate baseline: each item's click rate and click-and-purchase
// rate from smoothed counts, (events + a * prior) / (impressions + a), where
// the prior is the global rate so far. Every sample is scored before its own
// labels are counted, like the learner. Not thread-safe; owns its counts.
#pragma once

#include <cstdint>
#include <string>

#include "core/least_recent.h"

namespace streamrec::learner {

class ByteWriter;
class ByteReader;

class ItemRateBaseline {
 public:
  explicit ItemRateBaseline(double smoothing = 20, size_t max_items = 500000)
      : a_(smoothing), max_items_(max_items < 1 ? 1 : max_items) {}

  struct Score {
    float click;
    float ctcvr;
  };
  Score score(const std::string& item_id) const;
  // Counts an impression and its click (when its click label is final),
  // and separately its purchase (when that is final).
  void update_click(const std::string& item_id, bool clicked);
  void update_purchase(const std::string& item_id, bool purchased);

  size_t items() const { return items_.size(); }
  uint64_t evicted_items() const { return evicted_items_; }  // since construction

  void save(ByteWriter& out) const;
  bool load(ByteReader& in);

 private:
  struct Counts {
    uint64_t impressions = 0, clicks = 0, purchases = 0;
  };
  Counts& counts_of(const std::string& item_id);

  double a_;
  size_t max_items_;
  Counts total_;
  LeastRecentMap<std::string, Counts> items_;  // least recently counted first
  uint64_t evicted_items_ = 0;
};

}  // namespace streamrec::learner
