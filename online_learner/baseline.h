// The per-item rate baseline: each item's click rate and click-and-purchase
// rate from smoothed counts, (events + a * prior) / (impressions + a), where
// the prior is the global rate so far. Every sample is scored before its own
// labels are counted, like the learner. Not thread-safe; owns its counts.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

namespace streamrec::learner {

class ByteWriter;
class ByteReader;

class ItemRateBaseline {
 public:
  explicit ItemRateBaseline(double smoothing = 20) : a_(smoothing) {}

  struct Score {
    float click;
    float ctcvr;
  };
  Score score(const std::string& item_id) const;
  // Counts an impression and its click (when its click label is final),
  // and separately its purchase (when that is final).
  void update_click(const std::string& item_id, bool clicked);
  void update_purchase(const std::string& item_id, bool purchased);

  void save(ByteWriter& out) const;
  bool load(ByteReader& in);

 private:
  struct Counts {
    uint64_t impressions = 0, clicks = 0, purchases = 0;
  };
  double a_;
  Counts total_;
  std::unordered_map<std::string, Counts> items_;
};

}  // namespace streamrec::learner
