// /metrics of `streamrec serve` and of `streamrec learn` parse as Prometheus
// text (promtool check metrics, from Debian's prometheus package) and count
// what happened: requests by route and code, events consumed, dead letters
// by reason, samples learned, freshness, ranked items by candidate source.
#include <fstream>
#include <regex>
#include <set>

#include "tests/serving/serve_fixture.h"

namespace streamrec::testing {
namespace {

// promtool's verdict on `text` ("" when it has nothing to say); the test
// fails if promtool does not accept it.
void expect_promtool_accepts(const std::string& text, const std::string& dir) {
  const std::string file = dir + "/metrics.txt";
  std::ofstream(file) << text;
  int rc = -1;
  std::string verdict = run_shell("promtool check metrics < " + file + " 2>&1", &rc);
  EXPECT_EQ(rc, 0) << verdict << "\n" << text;
  EXPECT_EQ(verdict, "") << text;  // lint warnings (names, units, help) count too
}

// The value of the sample whose line starts with `series` ("name{labels}").
double sample(const std::string& text, const std::string& series) {
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return std::nan("");
  return std::stod(text.substr(at + series.size() + 2));
}

TEST_F(ServeTest, ServeMetricsCountRequestsByRouteAndCodeAndParse) {
  HttpClient client(start_serve());
  for (int i = 0; i < 3; ++i) client.get("/v1/users/u1/recommendations");
  client.get("/v1/users/u1/recommendations?k=0");
  client.get("/v1/nope");
  auto metrics = client.get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = metrics.body;
  EXPECT_EQ(sample(text, R"(streamrec_http_requests_total{route="/v1/users/{id}/recommendations",code="200"})"), 3)
      << text;
  EXPECT_EQ(sample(text, R"(streamrec_http_requests_total{route="/v1/users/{id}/recommendations",code="400"})"), 1);
  EXPECT_EQ(sample(text, R"(streamrec_http_requests_total{route="unknown",code="404"})"), 1);
  EXPECT_EQ(sample(text, R"(streamrec_http_request_duration_seconds_count{route="/v1/users/{id}/recommendations"})"),
            4);
  expect_promtool_accepts(text, dir_);
}

TEST_F(ServeTest, LearnerMetricsCountWhatTheLearnerDidAndParse) {
  const int port = free_port();
  auto environment = env();
  environment["STREAMREC_SERVING_LEARNER_METRICS_PORT"] = std::to_string(port);
  environment["STREAMREC_CONSUMER_SESSION_TIMEOUT_MS"] = "6000";
  Subprocess producer({STREAMREC_BINARY, "produce", "--synthetic", "--impressions", "3000", "--users", "100",
                       "--items", "50"},
                      environment, "", dir_ + "/produce.log");
  ASSERT_EQ(producer.wait(std::chrono::seconds(120)), 0);
  int rc = -1;
  std::string sent = run_shell("printf 'u1\\tnot json\\nu2\\t{\"type\":\"click\"}\\n' | kcat -P -b " +
                                   broker_->bootstrap_servers() + " -t events -K '\\t' 2>&1",
                               &rc);
  ASSERT_EQ(rc, 0) << sent;
  Subprocess learner({STREAMREC_BINARY, "learn", "--status-interval", "0.5"}, environment, "", dir_ + "/learn.log");
  std::string text;
  ASSERT_TRUE(eventually(
      [&] {
        try {
          HttpClient client(port);
          text = client.get("/metrics").body;
        } catch (const std::exception&) {
          return false;
        }
        return sample(text, "streamrec_learn_samples_learned_total") > 0 &&
               sample(text, "streamrec_learn_ranking_freshness_seconds_count") > 0;
      },
      std::chrono::seconds(60)))
      << text;
  EXPECT_GE(sample(text, "streamrec_learn_events_consumed_total"), 3000) << text;
  EXPECT_EQ(sample(text, R"(streamrec_learn_dead_letters_total{reason="bad_json"})"), 1) << text;
  EXPECT_EQ(sample(text, R"(streamrec_learn_dead_letters_total{reason="missing_field"})"), 1) << text;
  EXPECT_GE(sample(text, "streamrec_learn_rankings_written_total"), 1) << text;
  EXPECT_GT(sample(text, "process_resident_memory_bytes"), 1e6) << text;
  EXPECT_FALSE(std::isnan(sample(text, R"(streamrec_learn_log_loss{task="click"})"))) << text;
  EXPECT_EQ(sample(text, R"(streamrec_learn_ranking_freshness_seconds_bucket{le="+Inf"})"),
            sample(text, "streamrec_learn_ranking_freshness_seconds_count"));
  // Lag per events partition (the broker has 3), summing to the total.
  double partition_lags = 0;
  for (int p = 0; p < 3; ++p) {
    const double lag = sample(text, "streamrec_learn_consumer_partition_lag_events{partition=\"" + std::to_string(p) + "\"}");
    EXPECT_FALSE(std::isnan(lag)) << "no lag for partition " << p << "\n" << text;
    partition_lags += lag;
  }
  EXPECT_EQ(partition_lags, sample(text, "streamrec_learn_consumer_lag_events")) << text;
  // Redis write latency, per writer: every acknowledged write counted once.
  for (const std::string writer : {"effects", "rankings"}) {
    const std::string labels = "{writer=\"" + writer + "\"";
    const double writes = sample(text, "streamrec_learn_redis_write_duration_seconds_count" + labels + "}");
    EXPECT_GE(writes, 1) << writer << "\n" << text;
    EXPECT_EQ(sample(text, "streamrec_learn_redis_write_duration_seconds_bucket" + labels + ",le=\"+Inf\"}"), writes);
    EXPECT_GT(sample(text, "streamrec_learn_redis_write_duration_seconds_sum" + labels + "}"), 0) << text;
  }
  // Every ranked item counted under the source that proposed it; the shares sum to one.
  double ranked = 0, shares = 0;
  std::set<std::string> sources;
  const std::regex count_line(R"re(\nstreamrec_learn_ranked_items_total\{source="(\w+)"\} (\S+))re");
  for (std::sregex_iterator m(text.begin(), text.end(), count_line), end; m != end; ++m) {
    sources.insert((*m)[1]);
    ranked += std::stod((*m)[2]);
    shares += sample(text, "streamrec_learn_ranked_items_share{source=\"" + std::string((*m)[1]) + "\"}");
  }
  EXPECT_TRUE(sources.count("retrieval") && sources.count("popular") && sources.count("covisit")) << text;
  EXPECT_GE(ranked, sample(text, "streamrec_learn_rankings_written_total")) << text;
  EXPECT_NEAR(shares, 1.0, 1e-3) << text;
  EXPECT_GE(sample(text, "streamrec_learn_covisit_items"), 0) << text;
  EXPECT_EQ(sample(text, "streamrec_learn_covisit_evicted_items_total"), 0) << text;
  // The learned blend: every ranking kept for it or not; it learns at most one click a kept ranking.
  const double kept = sample(text, R"(streamrec_learn_blend_rankings_total{kept="true"})"),
               out_of_step = sample(text, R"(streamrec_learn_blend_rankings_total{kept="false"})");
  EXPECT_GE(kept + out_of_step, sample(text, "streamrec_learn_rankings_written_total")) << text;
  EXPECT_LE(sample(text, "streamrec_learn_blend_clicks_learned_total"), kept) << text;
  // Bounded memory: each structure's entries, bound and evictions.
  EXPECT_GE(sample(text, R"(streamrec_learn_memory_entries{structure="realtime_users"})"), 1) << text;
  EXPECT_EQ(sample(text, R"(streamrec_learn_memory_bound{structure="realtime_users"})"), 1e6) << text;
  EXPECT_EQ(sample(text, R"(streamrec_learn_memory_evicted_total{structure="realtime_users"})"), 0) << text;
  EXPECT_GE(sample(text, R"(streamrec_learn_memory_entries{structure="embedding_rows"})"), 1) << text;
  EXPECT_EQ(sample(text, R"(streamrec_learn_memory_bound{structure="catalog_items"})"), 2e6) << text;
  // A learner keeping up has few users waiting for a ranking (the ones asked within the last refresh interval).
  EXPECT_GE(sample(text, "streamrec_learn_rankings_waiting_users"), 0) << text;
  EXPECT_LT(sample(text, "streamrec_learn_rankings_waiting_users"), 1000) << text;
  expect_promtool_accepts(text, dir_);
  EXPECT_EQ(learner.stop(), 0);
}

}  // namespace
}  // namespace streamrec::testing
