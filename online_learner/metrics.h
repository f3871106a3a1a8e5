// Progressive-validation metrics for one prediction series: every
// (prediction, label) pair is recorded before the model learns from it.
//
// Keeps every pair (8 bytes each), so any range can be scored exactly: AUC by
// rank sums with ties averaged (not binned), log loss, calibration (mean
// prediction / mean label) and RMSE. Ranges are [begin, end) in recording
// order: the whole run, the last 20%, or a sliding window of the last N.
// A metric that is undefined on a range (AUC with one class, calibration
// with no positives) is NaN. Not thread-safe; owns its data.
#pragma once

#include <cstddef>
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
    predictions_.push_back(prediction);
    labels_.push_back(label);
  }
  size_t size() const { return predictions_.size(); }

  double auc(size_t begin, size_t end) const;
  SeriesSummary summarize(size_t begin, size_t end) const;
  SeriesSummary whole() const { return summarize(0, size()); }
  // The last `fraction` of the series (0.2 = last 20%).
  SeriesSummary tail(double fraction) const;
  SeriesSummary window(size_t last_n) const;

  void save(ByteWriter& out) const;
  bool load(ByteReader& in);

 private:
  std::vector<float> predictions_;
  std::vector<float> labels_;
};

}  // namespace streamrec::learner
