// POST /v1/events: events checked by the consumer's decoder, produced to
// `events` keyed by user, answered once the broker acknowledged them, with
// every rejection's line and reason; writes need the bearer token; a posted
// click reaches the user's ranking through a running learner.
#include <sstream>

#include "core/wall_clock.h"
#include "tests/serving/serve_fixture.h"

namespace streamrec::testing {
namespace {

namespace http = boost::beast::http;

class ServeEventsTest : public ServeTest {
 protected:
  HttpAnswer post(HttpClient& client, const std::string& body, const std::string& token = kToken) {
    std::map<std::string, std::string> headers;
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    return client.request(http::verb::post, "/v1/events", body, headers);
  }
  // Every message of the events topic, as "key<TAB>value" lines.
  std::vector<std::string> events_in_kafka() {
    std::istringstream lines(run_shell("kcat -C -b " + broker_->bootstrap_servers() +
                                       " -t events -e -q -f '%k\\t%s\\n' 2>&1"));
    std::vector<std::string> out;
    for (std::string line; std::getline(lines, line);) out.push_back(line);
    std::sort(out.begin(), out.end());
    return out;
  }
  static std::string event(const std::string& id, const std::string& user, const std::string& type = "click") {
    return R"({"event_id":")" + id + R"(","type":")" + type + R"(","user_id":")" + user +
           R"(","item_id":"i1","ts":1767225600000})";
  }
};

TEST_F(ServeEventsTest, NdjsonEventsReachKafkaKeyedByUserAndBadLinesAreNamed) {
  const auto before = events_in_kafka();
  HttpClient client(start_serve());
  const std::string body = event("nd-1", "alice") + "\n" +
                           R"({"event_id":"nd-2","type":"click","item_id":"i1","ts":1})" + "\n\n" +
                           event("nd-3", "bob", "purchase") + "\r\n" + "not json\n";
  auto answer = post(client, body);
  ASSERT_EQ(answer.status, 200) << answer.body;
  auto json = answer.json();
  EXPECT_EQ(int64_t(json["accepted"]), 2);
  EXPECT_EQ(int64_t(json["rejected"]), 2);
  EXPECT_EQ(int64_t(json["rejections"].at(0)["line"]), 2);
  EXPECT_EQ(std::string_view(json["rejections"].at(0)["reason"]), "missing_field");
  EXPECT_NE(std::string_view(json["rejections"].at(0)["message"]).find("user_id"), std::string_view::npos);
  EXPECT_EQ(int64_t(json["rejections"].at(1)["line"]), 5);
  EXPECT_EQ(std::string_view(json["rejections"].at(1)["reason"]), "bad_json");

  // Answered after the broker acknowledged: the events are there already.
  auto after = events_in_kafka();
  std::vector<std::string> added;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(added));
  EXPECT_EQ(added, (std::vector<std::string>{"alice\t" + event("nd-1", "alice"),
                                             "bob\t" + event("nd-3", "bob", "purchase")}));
}

TEST_F(ServeEventsTest, AJsonArrayIsCheckedElementByElement) {
  HttpClient client(start_serve());
  auto answer = post(client, "[" + event("arr-1", "carol") + ",\n" + event("arr-2", "dave", "impression") +
                                 R"(, 42, {"event_id":"arr-4","type":"like","user_id":"e","item_id":"i","ts":1}])");
  ASSERT_EQ(answer.status, 200) << answer.body;
  auto json = answer.json();
  EXPECT_EQ(int64_t(json["accepted"]), 2);
  EXPECT_EQ(std::string_view(json["rejections"].at(0)["reason"]), "not_object");
  EXPECT_EQ(int64_t(json["rejections"].at(0)["line"]), 3);
  EXPECT_EQ(std::string_view(json["rejections"].at(1)["reason"]), "unknown_event_type");
  auto kafka = events_in_kafka();
  EXPECT_EQ(std::count(kafka.begin(), kafka.end(), "carol\t" + event("arr-1", "carol")), 1);
  EXPECT_EQ(std::count(kafka.begin(), kafka.end(), "dave\t" + event("arr-2", "dave", "impression")), 1);
}

TEST_F(ServeEventsTest, MalformedOrEmptyBodiesAreRefusedWhole) {
  HttpClient client(start_serve());
  const auto before = events_in_kafka();
  auto broken = post(client, "[" + event("m-1", "erin") + ", {");
  EXPECT_EQ(broken.status, 400) << broken.body;
  EXPECT_EQ(std::string_view(broken.json()["error"]), "malformed_json");
  auto empty = post(client, "\n \n");
  EXPECT_EQ(empty.status, 400) << empty.body;
  EXPECT_EQ(std::string_view(empty.json()["error"]), "empty_body");
  auto none_valid = post(client, R"({"type":"click"})");
  EXPECT_EQ(none_valid.status, 422) << none_valid.body;
  EXPECT_EQ(int64_t(none_valid.json()["accepted"]), 0);
  EXPECT_EQ(events_in_kafka(), before);
}

TEST_F(ServeEventsTest, WritesNeedTheBearerTokenWhichIsNeverLogged) {
  HttpClient client(start_serve());
  auto missing = post(client, event("t-1", "frank"), "");
  EXPECT_EQ(missing.status, 401) << missing.body;
  EXPECT_EQ(missing.headers["WWW-Authenticate"], "Bearer");
  EXPECT_EQ(std::string_view(missing.json()["error"]), "unauthorized");
  auto wrong = post(client, event("t-1", "frank"), "test-token-5f2d");
  EXPECT_EQ(wrong.status, 401) << wrong.body;
  EXPECT_EQ(post(client, event("t-1", "frank")).status, 200);
  serve_->stop();
  EXPECT_EQ(serve_log().find(kToken), std::string::npos) << serve_log();
  int rc = -1;
  std::string config = run_shell("STREAMREC_SERVING_AUTH_TOKEN=" + std::string(kToken) + " " + STREAMREC_BINARY +
                                     " config 2>&1",
                                 &rc);
  EXPECT_NE(config.find("serving.auth_token: ***"), std::string::npos) << config;
  EXPECT_EQ(config.find(kToken), std::string::npos) << config;
}

TEST_F(ServeEventsTest, WithoutATokenConfiguredWritesAreRefused) {
  HttpClient client(start_serve({{"STREAMREC_SERVING_AUTH_TOKEN", ""}}));
  auto answer = post(client, event("w-1", "gina"), "anything");
  EXPECT_EQ(answer.status, 403) << answer.body;
  EXPECT_EQ(std::string_view(answer.json()["error"]), "writes_disabled");
}

TEST_F(ServeEventsTest, EventsTheBrokerDoesNotAcknowledgeAreNotReportedAccepted) {
  HttpClient client(start_serve({{"STREAMREC_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:" + std::to_string(free_port())},
                                 {"STREAMREC_KAFKA_PROPERTIES_MESSAGE_TIMEOUT_MS", "1500"}}));
  auto answer = post(client, event("k-1", "hal") + "\n" + event("k-2", "ivy"));
  EXPECT_EQ(answer.status, 503) << answer.body;
  auto json = answer.json();
  EXPECT_EQ(int64_t(json["accepted"]), 0);
  EXPECT_EQ(int64_t(json["rejected"]), 2);
  EXPECT_EQ(std::string_view(json["rejections"].at(0)["reason"]), "not_acknowledged");
}

TEST_F(ServeEventsTest, APostedClickReachesTheUsersRankingThroughTheLearner) {
  std::map<std::string, std::string> learn_env = env();
  learn_env["STREAMREC_CONSUMER_SESSION_TIMEOUT_MS"] = "6000";
  Subprocess producer({STREAMREC_BINARY, "produce", "--synthetic", "--impressions", "3000", "--users", "100",
                       "--items", "50"},
                      learn_env, "", dir_ + "/produce.log");
  ASSERT_EQ(producer.wait(std::chrono::seconds(120)), 0);
  Subprocess learner({STREAMREC_BINARY, "learn"}, learn_env, "", dir_ + "/learn.log");
  HttpClient client(start_serve());
  ASSERT_TRUE(eventually([&] { return redis_->cli("EXISTS sr:model") == "1\n"; }, std::chrono::seconds(60)))
      << "the learner wrote no sr:model: " << redis_->cli("HGETALL sr:model");

  auto before = client.get("/v1/users/posted-user/recommendations");
  ASSERT_EQ(before.status, 200) << before.body;
  EXPECT_EQ(std::string_view(before.json()["source"]), "popular");
  const std::string click = R"({"event_id":"posted-1","type":"click","user_id":"posted-user","item_id":"i3","ts":)" +
                            std::to_string(wall_clock_ms() - 1000) + "}";
  ASSERT_EQ(post(client, click).status, 200);
  std::string last;
  ASSERT_TRUE(eventually(
      [&] {
        auto answer = client.get("/v1/users/posted-user/recommendations?k=5");
        last = answer.body;
        return answer.status == 200 && std::string_view(answer.json()["source"]) == "personal";
      },
      std::chrono::seconds(30)))
      << last;
  HttpAnswer answer = client.get("/v1/users/posted-user/recommendations?k=5");
  auto json = answer.json();
  EXPECT_EQ(json["items"].get_array().size(), 5u) << answer.body;
  EXPECT_LT(int64_t(json["ranking_age_ms"]), 30000) << answer.body;
  EXPECT_TRUE(json["model_version"].is_int64()) << answer.body;  // sr:model is there
  // The click's effects are written each redis.write_interval_ms (1 s).
  ASSERT_TRUE(eventually(
      [&] {
        auto features = client.get("/v1/users/posted-user/features");
        last = features.body;
        return features.status == 200 && features.body.find(R"("recent":["i3"])") != std::string::npos;
      },
      std::chrono::seconds(30)))
      << last;
  EXPECT_EQ(learner.stop(), 0);
}

}  // namespace
}  // namespace streamrec::testing
