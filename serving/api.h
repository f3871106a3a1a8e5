// The HTTP API of `streamrec serve` (docs/serving.md): routes a request to
// what answers it, checks its ids, k and token, and renders the answer or a
// 4xx/5xx JSON error that names the problem.
//
//   GET  /v1/users/{id}/recommendations?k=N   RecommendationReader
//   GET  /v1/users/{id}/features              FeatureReader
//   GET  /v1/items/{id}                       FeatureReader
//   POST /v1/events                           EventIntake -> EventPublisher (bearer token)
//   DELETE /v1/users/{id}                     UserForgetter: tombstone, then the keys (bearer token)
//   GET  /healthz, /readyz, /metrics
//   GET  /                                    the dashboard (serving/dashboard/index.html, built in)
//   GET  /v1/stats?minutes=N                  LearnerStatsReader: the dashboard's series
//
// Threads: the handlers of handler_for() run on the HTTP threads,
// concurrently; every member is thread-safe or per call, and each thread
// reads recommendations through its own AsyncRedis (pipelined, never
// blocking the thread). The other reads lease a connection of the pool.
// Ownership: borrows the pool, the publisher (may be null: then POST answers
// 503 and /readyz checks Redis only) and the metrics, which must outlive it
// and the handlers.
#pragma once

#include <functional>
#include <string>

#include "core/config.h"
#include "serving/async_redis.h"
#include "serving/event_publisher.h"
#include "serving/feature_json.h"
#include "serving/http_server.h"
#include "serving/learner_stats.h"
#include "serving/recommendations.h"
#include "serving/redis_pool.h"
#include "serving/serving_metrics.h"
#include "serving/user_forgetter.h"

namespace streamrec::serving {

class ServingApi {
 public:
  ServingApi(const Config& config, RedisPool& redis, EventPublisher* publisher, ServingMetrics& metrics);

  // The handler of one HTTP thread (HttpServer's HandlerFactory): it owns
  // an AsyncRedis on `thread_io` for that thread's recommendation reads.
  Handler handler_for(boost::asio::io_context& thread_io);

 private:
  void handle(HttpRequest&& request, Respond respond, AsyncRedis& reads);
  void recommendations(const HttpRequest& request, std::string_view user_id, std::string_view query,
                       AsyncRedis& reads, Respond respond);
  HttpResponse features(const HttpRequest& request, std::string_view kind, std::string_view id);
  void events(HttpRequest&& request, Respond respond);
  void forget_user(const HttpRequest& request, const std::string& user_id, Respond respond);
  // The 401/403 answer of a write without the right bearer token; nullopt when it has it.
  std::optional<HttpResponse> refuse_write(const HttpRequest& request) const;
  HttpResponse ready(const HttpRequest& request);
  HttpResponse metrics(const HttpRequest& request);
  HttpResponse dashboard(const HttpRequest& request);
  HttpResponse stats(const HttpRequest& request, std::string_view query);

  const Config config_;
  RedisPool& redis_;
  EventPublisher* publisher_;
  ServingMetrics& metrics_;
  const RecommendationReader recommendation_reader_;
  const FeatureReader feature_reader_;
  const LearnerStatsReader stats_reader_;
  std::optional<UserForgetter> forgetter_;  // with a publisher
};

// Percent-decodes one path segment; nullopt when an escape is malformed.
std::optional<std::string> percent_decode(std::string_view segment);

}  // namespace streamrec::serving
