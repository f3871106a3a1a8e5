// What `streamrec serve` counts about itself, for its /metrics: requests by
// route and status code, their latency by route, events accepted and
// rejected (by reason) by POST /v1/events, and Redis and Kafka failures.
//
// Threads: every method may be called from any thread (one mutex; a request
// costs one short critical section). Never fails.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "serving/prometheus_text.h"

namespace streamrec::serving {

class ServingMetrics {
 public:
  // `route` is the route's pattern ("/v1/users/{id}/recommendations"), or
  // "unknown": a bounded set of label values, never the raw path.
  void request(std::string_view route, int status, std::chrono::nanoseconds latency);
  void events(int64_t accepted, const std::map<std::string, int64_t>& rejected_by_reason);
  void redis_error() { std::lock_guard lock(mutex_); ++redis_errors_; }
  void kafka_error() { std::lock_guard lock(mutex_); ++kafka_errors_; }

  // Appends every metric (streamrec_http_*, streamrec_serve_*) to `out`.
  void expose(PrometheusText& out) const;

 private:
  static constexpr std::array<double, 14> kBoundsSeconds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                            0.025,  0.05,    0.1,    0.25,  0.5,   1,     2.5};
  struct Latency {
    std::array<uint64_t, kBoundsSeconds.size()> buckets{};  // not cumulative
    uint64_t count = 0;
    double sum_seconds = 0;
  };

  // By route, then status code. Transparent (std::less<>): counting a
  // request builds no string once its route and code were seen.
  mutable std::mutex mutex_;
  std::map<std::string, std::map<int, uint64_t>, std::less<>> requests_;
  std::map<std::string, Latency, std::less<>> latency_;
  int64_t events_accepted_ = 0;
  std::map<std::string, int64_t> events_rejected_;
  int64_t redis_errors_ = 0;
  int64_t kafka_errors_ = 0;
};

}  // namespace streamrec::serving
