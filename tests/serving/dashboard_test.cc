// The dashboard of `streamrec serve` (docs/serving.md, "Dashboard"): GET /
// is one self-contained page; GET /v1/stats turns what the learners push on
// sr:stats into rates, freshness quantiles and gauges; and in a real browser
// (headless Chromium, Debian's `chromium`) the page, fed by a real learner,
// draws every plot and a user's ranking. The screenshot is kept beside the
// test binary as dashboard.png.
#include <filesystem>
#include <fstream>
#include <regex>

#include "serving/learner_stats.h"
#include "tests/serving/serve_fixture.h"

namespace streamrec::testing {
namespace {

// A learner's stats sample as `streamrec learn` pushes it (apps/learn_command.cc).
std::string sample(int64_t ts, int events, int dead_letters, int samples, int rankings, int fresh_count,
                   const std::string& le, double auc_click) {
  return "{\"ts\":" + std::to_string(ts) + ",\"learner\":\"host:1\",\"consumer\":{\"events\":" +
         std::to_string(events) + ",\"dead_letters\":" + std::to_string(dead_letters) +
         ",\"dead_letters_by_reason\":{\"bad_json\":" + std::to_string(dead_letters) +
         "},\"lag\":7},\"sink\":{\"samples_learned\":" + std::to_string(samples) +
         ",\"rankings_written\":" + std::to_string(rankings) + ",\"freshness_ms\":{\"count\":" +
         std::to_string(fresh_count) + ",\"le\":{" + le + "}},\"auc_click_window\":" + std::to_string(auc_click) +
         ",\"auc_ctcvr_window\":null,\"tasks\":{\"click\":{\"calibration\":0.98},\"ctcvr\":{\"calibration\":null}}}}";
}

double number(simdjson::dom::element e) {
  double d;
  if (!e.get_double().get(d)) return d;
  int64_t i;
  if (!e.get_int64().get(i)) return static_cast<double>(i);
  return std::nan("");
}

using serving::interval_quantile;

TEST(IntervalQuantileTest, InterpolatesInsideTheBucketOfTheObservationsGainedBetweenTwoSamples) {
  const std::vector<double> bounds = {10, 100, 1000};
  // Before: 5 at most 10 ms. After: 4 more at most 10, 4 in (10, 100], 2 above 1000.
  const std::vector<double> before = {5, 5, 5}, after = {9, 13, 13};
  EXPECT_DOUBLE_EQ(interval_quantile(bounds, before, after, 5, 15, 0.2), 5);          // 2 of the 4 in [0, 10]
  EXPECT_DOUBLE_EQ(interval_quantile(bounds, before, after, 5, 15, 0.6), 10 + 90 * 0.5);  // 2 of the 4 in (10, 100]
  EXPECT_DOUBLE_EQ(interval_quantile(bounds, before, after, 5, 15, 0.99), 1000);      // beyond the last bound
  EXPECT_TRUE(std::isnan(interval_quantile(bounds, after, after, 15, 15, 0.5)));      // nothing gained
}

TEST_F(ServeTest, StatsTurnTheLearnersSamplesIntoRatesPerSecondAndIntervalFreshness) {
  HttpClient client(start_serve());
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  // Two samples 2 s apart: 3000 events, 4 dead letters, 1000 samples, 20
  // rankings more; freshness gained 10 rankings, 5 of them in (10, 50] ms.
  redis({"LPUSH", "sr:stats", sample(now - 3000, 1000, 1, 500, 10, 4, "\"10\":4,\"50\":4,\"100\":4", 0.61)});
  redis({"LPUSH", "sr:stats", sample(now - 1000, 4000, 5, 1500, 30, 14, "\"10\":9,\"50\":14,\"100\":14", 0.64)});
  redis({"HSET", "sr:model", "version", "3", "events_trained", "1500"});

  auto answer = client.get("/v1/stats?minutes=5");
  ASSERT_EQ(answer.status, 200) << answer.body;
  auto stats = answer.json();
  EXPECT_EQ(number(stats["model"]["version"]), 3);
  auto learners = stats["learners"].get_array().value();
  ASSERT_EQ(learners.size(), 1u);
  EXPECT_EQ(number(learners.at(0)["dead_letters_by_reason"]["bad_json"]), 5);
  auto points = stats["points"].get_array().value();
  ASSERT_EQ(points.size(), 2u) << answer.body;
  auto first = points.at(0), second = points.at(1);
  EXPECT_TRUE(first["events_per_s"].is_null());  // no sample before it
  EXPECT_DOUBLE_EQ(number(second["events_per_s"]), 1500);
  EXPECT_DOUBLE_EQ(number(second["dead_letters_per_s"]), 2);
  EXPECT_DOUBLE_EQ(number(second["samples_per_s"]), 500);
  EXPECT_DOUBLE_EQ(number(second["rankings_per_s"]), 10);
  EXPECT_DOUBLE_EQ(number(second["lag"]), 7);
  EXPECT_DOUBLE_EQ(number(second["freshness_p50_ms"]), 10);  // the 5th of 10: the last at most 10 ms
  EXPECT_DOUBLE_EQ(number(second["freshness_p99_ms"]), 10 + 40 * 4.9 / 5);
  EXPECT_NEAR(number(second["auc_click"]), 0.64, 1e-9);
  EXPECT_TRUE(second["auc_ctcvr"].is_null());
  EXPECT_NEAR(number(second["calibration_click"]), 0.98, 1e-9);

  // A window that ends before the first sample plots only the second.
  redis({"LPUSH", "sr:stats", sample(now - 4 * 60'000, 0, 0, 0, 0, 0, "\"10\":0", 0.5)});
  redis({"LPUSH", "sr:stats", "not json"});
  auto short_answer = client.get("/v1/stats?minutes=3");  // json() points into it: keep it
  auto short_window = short_answer.json();
  EXPECT_EQ(short_window["points"].get_array().value().size(), 2u);
  EXPECT_EQ(number(short_window["skipped"]), 1);
}

TEST_F(ServeTest, StatsRefuseMinutesOutOfRangeAndUnknownParameters) {
  HttpClient client(start_serve());
  for (const char* bad : {"/v1/stats?minutes=0", "/v1/stats?minutes=61", "/v1/stats?minutes=x"}) {
    auto answer = client.get(bad);
    EXPECT_EQ(answer.status, 400) << bad;
    EXPECT_EQ(std::string_view(answer.json()["error"].get_string().value()), "bad_minutes") << answer.body;
  }
  auto answer = client.get("/v1/stats?hours=1");
  EXPECT_EQ(answer.status, 400);
  EXPECT_NE(answer.body.find("hours"), std::string::npos);
  EXPECT_EQ(client.request(boost::beast::http::verb::post, "/v1/stats", "{}").status, 405);
}

TEST_F(ServeTest, TheDashboardIsOneSelfContainedPageOverCurl) {
  const int port = start_serve();
  int rc = -1;
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  std::string headers = run_shell("curl -sS -D - -o " + dir_ + "/page.html " + url, &rc);
  ASSERT_EQ(rc, 0) << headers;
  EXPECT_NE(headers.find("200 OK"), std::string::npos) << headers;
  EXPECT_NE(headers.find("Content-Type: text/html; charset=utf-8"), std::string::npos) << headers;
  std::ifstream in(dir_ + "/page.html");
  const std::string page(std::istreambuf_iterator<char>(in), {});
  EXPECT_NE(page.find("<title>streamrec</title>"), std::string::npos);
  EXPECT_NE(page.find("/v1/stats"), std::string::npos);
  // Nothing loaded from elsewhere: no script, style, image or font by URL.
  EXPECT_FALSE(std::regex_search(page, std::regex(R"((src|href)\s*=\s*["']?(https?:)?//)"))) << "fetches from a CDN";
  EXPECT_FALSE(std::regex_search(page, std::regex(R"(@import|url\()"))) << "loads a stylesheet or font";
  // Its own parameters (?user=) are the page's, not an error.
  std::string with_user = run_shell("curl -s -o /dev/null -w '%{http_code}' '" + url + "?user=u1&minutes=5'", &rc);
  EXPECT_EQ(with_user, "200");
}

// The attribute `name` of the element with id `id` in a dumped DOM.
std::string attribute(const std::string& dom, const std::string& id, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(dom, m, std::regex("<[^>]*id=\"" + id + "\"[^>]*" + name + "=\"([^\"]*)\""))) return "";
  return m[1];
}

TEST_F(ServeTest, AHeadlessBrowserDrawsEveryPlotFromARealLearnerAndAUsersRanking) {
  int rc = -1;
  ASSERT_EQ(run_shell("command -v chromium", &rc).empty(), false) << "chromium is missing: scripts/bootstrap.sh";
  auto environment = env();
  environment["STREAMREC_CONSUMER_SESSION_TIMEOUT_MS"] = "6000";
  Subprocess learner({STREAMREC_BINARY, "learn", "--status-interval", "0.5"}, environment, "", dir_ + "/learn.log");
  ASSERT_TRUE(eventually(
      [&] { return run_shell("grep -c 'partition(s) assigned' " + dir_ + "/learn.log 2>/dev/null") > "0"; },
      std::chrono::seconds(30)));
  // A steady stream over a few seconds, so that several samples see it flow.
  Subprocess producer({STREAMREC_BINARY, "produce", "--synthetic", "--impressions", "12000", "--users", "100",
                       "--items", "60", "--set", "producer.rate=4000"},
                      environment, "", dir_ + "/produce.log");
  ASSERT_EQ(producer.wait(std::chrono::seconds(120)), 0);
  run_shell("printf 'u1\\tnot json\\n' | kcat -P -b " + broker_->bootstrap_servers() + " -t events -K '\\t'");
  // What every plot below draws: a ranking, a few samples, and in the
  // newest an AUC over the recent window, which the learner reports only once
  // that window holds clicks and non-clicks. Four samples alone were not
  // enough for a slower learner (under AddressSanitizer the AUC plot was
  // empty).
  std::string user;
  ASSERT_TRUE(eventually(
      [&] {
        user = redis_->cli("--scan --pattern 'sr:{u:*}:rec'");
        return !user.empty() && std::stoi("0" + redis_->cli("LLEN sr:stats")) >= 4 &&
               std::regex_search(redis_->cli("LINDEX sr:stats 0"), std::regex("\"auc_click_window\":[0-9]"));
      },
      std::chrono::seconds(60)));
  user = user.substr(std::string("sr:{u:").size());  // the first key scanned
  user = user.substr(0, user.find('}'));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the dead letter's sample

  const int port = start_serve();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/?user=" + user;
  const std::string chromium = "timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
                               "--user-data-dir=" + dir_ + "/chromium --virtual-time-budget=8000 ";
  const std::string dom = run_shell(chromium + "--dump-dom '" + url + "' 2>" + dir_ + "/chromium.log", &rc);
  ASSERT_EQ(rc, 0) << dom;
  EXPECT_EQ(attribute(dom, "status", "data-state"), "ok") << dom;
  for (const char* plot : {"throughput", "lag", "freshness", "auc", "calibration", "dead-letters"}) {
    const std::string points = attribute(dom, std::string("plot-") + plot, "data-points");
    EXPECT_GT(points.empty() ? 0 : std::stoi(points), 0) << plot << " has no data\n" << dom;
  }
  EXPECT_NE(dom.find("data-series=\"events_per_s\""), std::string::npos) << "no throughput line drawn";
  EXPECT_NE(dom.find("bad_json 1"), std::string::npos) << "the dead letter by reason";
  EXPECT_EQ(attribute(dom, "user-summary", "data-source"), "personal") << dom;
  // Every item of the user's ranking, in its order.
  HttpClient client(port);
  auto ranking = client.get("/v1/users/" + user + "/recommendations?k=10");
  auto items = ranking.json()["items"].get_array().value();
  ASSERT_GT(items.size(), 0u) << ranking.body;
  size_t at = 0;
  for (auto item : items) {
    const std::string id(item["item_id"].get_string().value());
    at = dom.find("data-item=\"" + id + "\"", at);
    ASSERT_NE(at, std::string::npos) << id << " missing or out of order";
    // With the learner's explanation: its source, in words.
    std::smatch why;
    const std::string row = dom.substr(at, dom.find("</tr>", at) - at);
    ASSERT_TRUE(std::regex_search(row, why, std::regex(R"re(class="why" data-source="(\w+)">([^<]+)<)re"))) << row;
    EXPECT_NE(why[1].str(), "popular_fallback") << row;
    EXPECT_NE(why[2].str().find("pCTR"), std::string::npos) << row;
  }

  const std::string png = (std::filesystem::current_path() / "dashboard.png").string();
  std::filesystem::remove(png);
  run_shell(chromium + "--window-size=1280,1400 --screenshot=" + png + " '" + url + "' 2>>" + dir_ + "/chromium.log",
            &rc);
  ASSERT_EQ(rc, 0);
  ASSERT_TRUE(std::filesystem::exists(png));
  EXPECT_GT(std::filesystem::file_size(png), 20'000u) << "a blank screenshot";
  std::cout << "screenshot: " << png << "\n";
  EXPECT_EQ(learner.stop(), 0);
}

}  // namespace
}  // namespace streamrec::testing
