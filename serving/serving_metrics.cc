#include "serving/serving_metrics.h"

#include <vector>

namespace streamrec::serving {

void ServingMetrics::request(std::string_view route, int status, std::chrono::nanoseconds latency) {
  const double seconds = std::chrono::duration<double>(latency).count();
  std::lock_guard lock(mutex_);
  auto by_code = requests_.find(route);
  if (by_code == requests_.end()) by_code = requests_.emplace(std::string(route), std::map<int, uint64_t>{}).first;
  ++by_code->second[status];
  auto latency_of = latency_.find(route);
  if (latency_of == latency_.end()) latency_of = latency_.emplace(std::string(route), Latency{}).first;
  Latency& l = latency_of->second;
  for (size_t i = 0; i < kBoundsSeconds.size(); ++i) {
    if (seconds <= kBoundsSeconds[i]) {
      ++l.buckets[i];
      break;
    }
  }
  ++l.count;
  l.sum_seconds += seconds;
}

void ServingMetrics::events(int64_t accepted, const std::map<std::string, int64_t>& rejected_by_reason) {
  std::lock_guard lock(mutex_);
  events_accepted_ += accepted;
  for (auto& [reason, n] : rejected_by_reason) events_rejected_[reason] += n;
}

void ServingMetrics::expose(PrometheusText& out) const {
  std::lock_guard lock(mutex_);
  for (auto& [route, by_code] : requests_)
    for (auto& [code, n] : by_code)
      out.counter("streamrec_http_requests_total", "HTTP requests answered, by route and status code",
                  static_cast<double>(n), {{"route", route}, {"code", std::to_string(code)}});
  const std::vector<double> bounds(kBoundsSeconds.begin(), kBoundsSeconds.end());
  for (auto& [route, l] : latency_) {
    std::vector<uint64_t> cumulative;
    uint64_t running = 0;
    for (uint64_t b : l.buckets) cumulative.push_back(running += b);
    out.histogram("streamrec_http_request_duration_seconds",
                  "Time from a request read to its answer handed to the connection, by route", bounds, cumulative,
                  l.count, l.sum_seconds, {{"route", route}});
  }
  out.counter("streamrec_serve_events_accepted_total",
              "Events of POST /v1/events the broker acknowledged", static_cast<double>(events_accepted_));
  if (events_rejected_.empty())
    out.counter("streamrec_serve_events_rejected_total", "Events of POST /v1/events rejected, by reason", 0);
  for (auto& [reason, n] : events_rejected_)
    out.counter("streamrec_serve_events_rejected_total", "Events of POST /v1/events rejected, by reason",
                static_cast<double>(n), {{"reason", reason}});
  out.counter("streamrec_serve_redis_errors_total", "Redis reads that failed (unreachable, I/O error)",
              static_cast<double>(redis_errors_));
  out.counter("streamrec_serve_kafka_errors_total", "Events the broker did not acknowledge",
              static_cast<double>(kafka_errors_));
}

}  // namespace streamrec::serving
