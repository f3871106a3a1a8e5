#include "online_learner/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "online_learner/byte_io.h"

namespace streamrec::learner {

double MetricSeries::auc(size_t begin, size_t end) const {
  const size_t n = end - begin;
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  const float* p = predictions_.data() + begin;
  const float* y = labels_.data() + begin;
  std::sort(order.begin(), order.end(), [p](uint32_t a, uint32_t b) { return p[a] < p[b]; });
  // Sum of the (tie-averaged, 1-based) ranks of the positives.
  double positive_rank_sum = 0;
  size_t positives = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && p[order[j]] == p[order[i]]) ++j;
    double rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (size_t k = i; k < j; ++k)
      if (y[order[k]] > 0.5f) {
        positive_rank_sum += rank;
        ++positives;
      }
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
