#include "online_learner/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "online_learner/byte_io.h"
#include "online_learner/float_order.h"

namespace streamrec::learner {

double MetricSeries::auc(size_t begin, size_t end) const {
  // Rank sums over the pairs sorted by prediction: a radix sort of
  // (prediction's order key, label) in three passes of 11 bits, not a
  // comparison sort -- the AUC of a window of a million pairs is computed
  // every few seconds on the consumer's thread.
  const size_t n = end - begin;
  std::vector<uint64_t> sorted(n), scratch(n);
  for (size_t i = 0; i < n; ++i)
    sorted[i] = uint64_t{float_order_key(predictions_[begin + i])} << 1 | (labels_[begin + i] > 0.5f ? 1 : 0);
  constexpr int kBits = 11;
  constexpr size_t kBuckets = size_t{1} << kBits;
  for (int shift = 1; shift < 33; shift += kBits) {
    std::vector<size_t> start(kBuckets + 1, 0);
    for (uint64_t v : sorted) ++start[((v >> shift) & (kBuckets - 1)) + 1];
    std::partial_sum(start.begin(), start.end(), start.begin());
    for (uint64_t v : sorted) scratch[start[(v >> shift) & (kBuckets - 1)]++] = v;
    sorted.swap(scratch);
  }
  // Sum of the (tie-averaged, 1-based) ranks of the positives.
  double positive_rank_sum = 0;
  size_t positives = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i, tied_positives = 0;
    for (; j < n && sorted[j] >> 1 == sorted[i] >> 1; ++j) tied_positives += sorted[j] & 1;
    positive_rank_sum += static_cast<double>(tied_positives) * (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    positives += tied_positives;
    i = j;
  }
  size_t negatives = n - positives;
  if (positives == 0 || negatives == 0) return std::numeric_limits<double>::quiet_NaN();
  double pos = static_cast<double>(positives);
  return (positive_rank_sum - pos * (pos + 1) / 2) / (pos * static_cast<double>(negatives));
}

SeriesSummary MetricSeries::summarize(size_t begin, size_t end) const {
  SeriesSummary s;
  s.count = end - begin;
  if (s.count == 0) {
    s.auc = s.logloss = s.calibration = s.rmse = s.mean_label = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  double loss = 0, sum_p = 0, sum_y = 0, sq = 0;
  for (size_t i = begin; i < end; ++i) {
    double p = std::clamp(static_cast<double>(predictions_[i]), 1e-7, 1 - 1e-7), y = labels_[i];
    loss -= y * std::log(p) + (1 - y) * std::log(1 - p);
    sum_p += predictions_[i];
    sum_y += y;
    sq += (predictions_[i] - y) * (predictions_[i] - y);
  }
  double n = static_cast<double>(s.count);
  s.auc = auc(begin, end);
  s.logloss = loss / n;
  s.calibration = sum_y > 0 ? sum_p / sum_y : std::numeric_limits<double>::quiet_NaN();
  s.rmse = std::sqrt(sq / n);
  s.mean_label = sum_y / n;
  return s;
}

SeriesSummary MetricSeries::tail(double fraction) const {
  size_t n = size();
  size_t keep = static_cast<size_t>(std::llround(static_cast<double>(n) * fraction));
  return summarize(n - std::min(n, keep), n);
}

SeriesSummary MetricSeries::window(size_t last_n) const {
  size_t n = size();
  return summarize(n - std::min(n, last_n), n);
}

MetricSeries MetricSeries::copy_last(size_t last_n) const {
  const size_t n = size(), first = last_n == 0 ? 0 : n - std::min(n, last_n);
  MetricSeries copy;
  copy.predictions_.assign(predictions_.begin() + static_cast<std::ptrdiff_t>(first), predictions_.end());
  copy.labels_.assign(labels_.begin() + static_cast<std::ptrdiff_t>(first), labels_.end());
  return copy;
}

void MetricSeries::catch_up(const MetricSeries& source) {
  const uint64_t have = dropped_ + size(), source_total = source.dropped_ + source.size();
  if (cap_ != source.cap_ || have < source.dropped_ || have > source_total) {
    *this = source;
    return;
  }
  // The same pairs added under the same cap drop at the same points.
  for (uint64_t i = have - source.dropped_; i < source.size(); ++i) add(source.predictions_[i], source.labels_[i]);
}

void MetricSeries::save(ByteWriter& out) const {
  out.u64(dropped_);
  out.pod_vector(predictions_);
  out.pod_vector(labels_);
}

bool MetricSeries::load(ByteReader& in) {
  dropped_ = in.u64();
  in.pod_vector(predictions_);
  in.pod_vector(labels_);
  if (in.ok() && predictions_.size() != labels_.size()) in.fail("metric series lengths differ");
  return in.ok();
}

}  // namespace streamrec::learner
