// A latency histogram in milliseconds with log-spaced buckets (about 5%
// wide), for freshness percentiles over millions of samples in constant
// memory. Percentiles are bucket upper bounds, so they err high by at most
// one bucket width. count_at_most() gives cumulative counts for a
// Prometheus histogram, within one bucket width too. Plain value; not
// thread-safe.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

namespace streamrec {

class LatencyHistogram {
 public:
  void record(double ms) {
    if (!(ms >= 0)) ms = 0;
    ++counts_[bucket(ms)];
    ++count_;
    sum_ += ms;
    if (ms > max_) max_ = ms;
  }
  uint64_t count() const { return count_; }
  double max() const { return max_; }
  double sum() const { return sum_; }
  // How many samples fell into buckets whose upper bound is at most `ms`
  // (so it errs low by at most one bucket's samples).
  uint64_t count_at_most(double ms) const {
    uint64_t n = 0;
    for (size_t b = 0; b < counts_.size() && upper_bound(b) <= ms; ++b) n += counts_[b];
    return n;
  }
  // The q-quantile (0 < q <= 1); 0 when empty.
  double percentile(double q) const {
    if (count_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
    uint64_t seen = 0;
    for (size_t b = 0; b < counts_.size(); ++b) {
      seen += counts_[b];
      if (seen >= rank) return std::min(upper_bound(b), max_);
    }
    return max_;
  }

 private:
  static constexpr double kGrowth = 1.05;
  static constexpr size_t kBuckets = 400;  // up to ~3e8 ms
  static size_t bucket(double ms) {
    if (ms < 1) return 0;
    size_t b = 1 + static_cast<size_t>(std::log(ms) / std::log(kGrowth));
    return b < kBuckets ? b : kBuckets - 1;
  }
  static double upper_bound(size_t b) { return b == 0 ? 1.0 : std::pow(kGrowth, static_cast<double>(b)); }

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  double sum_ = 0;
  double max_ = 0;
};

}  // namespace streamrec
