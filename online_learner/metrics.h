// Progressive-validation metrics for one prediction series: every
// (prediction, label) pair is recorded before the model learns from it.
//
// Keeps every pair (8 bytes each), so any range can be scored exactly: AUC by
// rank sums with ties averaged (not binned), log loss, calibration (mean
// prediction / mean label) and RMSE. Ranges are [begin, end) in recording
// order: the whole run, the last 20%, or a sliding window of the last N.
// A metric that is undefined on a range (AUC with one class, calibration
// with no positives) is NaN. With a cap (set_cap), at most 2*cap pairs are
// kept: when full, the oldest cap are dropped (counted in dropped()), so a
// long-running learner's "whole" means "the last cap to 2*cap".
// Not thread-safe; owns its data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace streamrec::learner {

class ByteWriter;
class ByteReader;

struct SeriesSummary {
  size_t count = 0;
  double auc = 0;
  double logloss = 0;
  double calibration = 0;
  double rmse = 0;
  double mean_label = 0;
};

class MetricSeries {
 public:
  void add(float prediction, float label) {
    if (cap_ > 0 && predictions_.size() >= 2 * cap_) {
      predictions_.erase(predictions_.begin(), predictions_.begin() + static_cast<std::ptrdiff_t>(cap_));
      labels_.erase(labels_.begin(), labels_.begin() + static_cast<std::ptrdiff_t>(cap_));
      dropped_ += cap_;
    }
    predictions_.push_back(prediction);
    labels_.push_back(label);
  }
  size_t size() const { return predictions_.size(); }
  void set_cap(size_t cap) { cap_ = cap; }
  uint64_t dropped() const { return dropped_; }

  double auc(size_t begin, size_t end) const;
  SeriesSummary summarize(size_t begin, size_t end) const;
  SeriesSummary whole() const { return summarize(0, size()); }
  // The last `fraction` of the series (0.2 = last 20%).
  SeriesSummary tail(double fraction) const;
  SeriesSummary window(size_t last_n) const;
  // A copy of the last `last_n` pairs (all of them with 0), to be scored
  // elsewhere: e.g. without holding the lock that guards this series.
  MetricSeries copy_last(size_t last_n) const;
  // Makes this a copy of `source` again, copying only the pairs `source`
  // recorded since this copy last caught up (and dropping the oldest where
  // it did): a copy kept up to date costs what is new, not the whole
  // series. A copy that fell behind what `source` keeps is replaced whole.
  void catch_up(const MetricSeries& source);

  void save(ByteWriter& out) const;
  bool load(ByteReader& in);

 private:
  std::vector<float> predictions_;
  std::vector<float> labels_;
  size_t cap_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace streamrec::learner
