// Builds a Prometheus text exposition (format 0.0.4): each metric family
// once with its # HELP and # TYPE, then its samples; label values escaped.
// https://prometheus.io/docs/instrumenting/exposition_formats/
//
// Plain value, not thread-safe: build one per scrape. Names are the
// caller's (snake_case, a unit suffix, counters ending in _total); a family
// given again with another type is a programming error the caller avoids.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/latency_histogram.h"

namespace streamrec::serving {

using Labels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
 public:
  void counter(std::string_view name, std::string_view help, double value, const Labels& labels = {});
  void gauge(std::string_view name, std::string_view help, double value, const Labels& labels = {});
  // A histogram from cumulative bucket counts: `bounds[i]` is the upper
  // bound of `cumulative[i]`; +Inf is added with `count`.
  void histogram(std::string_view name, std::string_view help, const std::vector<double>& bounds,
                 const std::vector<uint64_t>& cumulative, uint64_t count, double sum, const Labels& labels = {});
  // A summary with the given quantiles (e.g. {0.5, p50}, {0.99, p99}).
  void summary(std::string_view name, std::string_view help, const std::vector<std::pair<double, double>>& quantiles,
               uint64_t count, double sum, const Labels& labels = {});

  const std::string& text() const { return text_; }

 private:
  void family(std::string_view name, std::string_view help, std::string_view type);
  void sample(std::string_view name, const Labels& labels, double value, std::string_view extra_label = {},
              std::string_view extra_value = {});

  std::string text_;
  std::vector<std::string> families_;
};

// The Content-Type of that text.
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// Formats a number the way the exposition format reads it (NaN, +Inf, -Inf).
std::string prometheus_number(double value);

}  // namespace streamrec::serving
