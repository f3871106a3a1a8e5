// Explanations from the learner to GET /v1/users/{id}/recommendations?explain=true
// (docs/serving.md, "Explanations"): the text the learner writes
// (ranking/explanation.h) reads back as the JSON serve answers, and end to
// end, against a real redis-server, the embedded broker and a real learner,
// every ranked item says why with terms that multiply to its score.
#include <cmath>
#include <set>

#include "ranking/explanation.h"
#include "serving/explanation_json.h"
#include "tests/serving/serve_fixture.h"

namespace streamrec::testing {
namespace {

double number(simdjson::dom::element e) {
  double d;
  if (!e.get_double().get(d)) return d;
  int64_t i;
  if (!e.get_int64().get(i)) return static_cast<double>(i);
  return std::nan("");
}

TEST(ExplanationText, ReadsBackAsJsonWithOddIdsAndUndefinedNumbers) {
  ranking::Explanation why;
  why.source = "covisit";
  why.because = {"i|1", "a,b", "50%"};
  why.category = "books|new";
  why.category_share = 0.25;
  why.pctr = 0.031234567;
  why.pcvr = std::nan("");  // a model without the conversion task
  why.model_score = 0.0312;
  why.category_factor = 8.5;
  why.history_factor = 1;
  const std::string text = ranking::encode(why);
  EXPECT_EQ(text, "covisit|i%7C1,a%2Cb,50%25|books%7Cnew|0.25|0.03123||0.0312|8.5|1");
  EXPECT_EQ(serving::explanation_json(text),
            R"({"source":"covisit","because":["i|1","a,b","50%"],"category":"books|new","category_share":0.25,)"
            R"("pctr":0.03123,"pcvr":null,"model_score":0.0312,"category_factor":8.5,"history_factor":1})");
  why.category_share = 0;  // a category that did not drive the item is not written
  why.because.clear();
  EXPECT_EQ(serving::explanation_json(ranking::encode(why)),
            R"({"source":"covisit","because":[],"category":null,"category_share":0,)"
            R"("pctr":0.03123,"pcvr":null,"model_score":0.0312,"category_factor":8.5,"history_factor":1})");
}

TEST(ExplanationText, AnythingElseIsNotAnExplanation) {
  for (const char* bad : {"", "recent", "recent|||0|1|1|1|1", "recent|||0|1|1|1|1|1|extra", "|||0|1|1|1|1|1",
                          "recent|||x|1|1|1|1|1", "recent|%zz||0|1|1|1|1|1", "recent|a,,b||0|1|1|1|1|1",
                          "{\"source\":\"recent\"}"})
    EXPECT_FALSE(serving::explanation_json(bad).has_value()) << bad;
}

TEST_F(ServeTest, EveryRankedItemSaysWhyWithTermsThatMultiplyToItsScore) {
  auto environment = env();
  environment["STREAMREC_CONSUMER_SESSION_TIMEOUT_MS"] = "6000";
  Subprocess learner({STREAMREC_BINARY, "learn"}, environment, "", dir_ + "/learn.log");
  Subprocess producer({STREAMREC_BINARY, "produce", "--synthetic", "--impressions", "6000", "--users", "60",
                       "--items", "40"},
                      environment, "", dir_ + "/produce.log");
  ASSERT_EQ(producer.wait(std::chrono::seconds(120)), 0);
  // The users whose ranking and explanations the learner wrote (in one MULTI).
  std::string scanned;
  ASSERT_TRUE(eventually(
      [&] {
        scanned = redis_->cli("--scan --pattern 'sr:{u:*}:why'");
        return std::count(scanned.begin(), scanned.end(), '\n') >= 20;
      },
      std::chrono::seconds(60)));
  HttpClient client(start_serve());
  std::set<std::string> sources;
  int users = 0;
  for (size_t at = 0; (at = scanned.find("sr:{u:", at)) != std::string::npos; ++at) {
    const std::string user = scanned.substr(at + 6, scanned.find('}', at) - at - 6);
    // Both in one script: the learner may rewrite them (in one MULTI)
    // between two separate reads.
    const std::string sizes = redis_->cli("EVAL \"return {redis.call('HLEN', KEYS[1]), redis.call('ZCARD', KEYS[2])}\" 2 "
                                          "'sr:{u:" + user + "}:why' 'sr:{u:" + user + "}:rec'");
    const size_t newline = sizes.find('\n');
    ASSERT_NE(newline, std::string::npos) << sizes;
    EXPECT_EQ(sizes.substr(0, newline + 1), sizes.substr(newline + 1)) << "HLEN why, ZCARD rec: " << sizes;
    auto answer = client.get("/v1/users/" + user + "/recommendations?k=20&explain=true");
    ASSERT_EQ(answer.status, 200) << answer.body;
    auto json = answer.json();
    ASSERT_EQ(std::string_view(json["source"].get_string().value()), "personal");
    simdjson::dom::array items = json["items"].get_array().value();
    for (simdjson::dom::element item : items) {
      auto why = item["why"];
      ASSERT_TRUE(why.is_object()) << answer.body;
      const std::string source(why["source"].get_string().value());
      sources.insert(source);
      EXPECT_TRUE((std::set<std::string>{"recent", "covisit", "category", "retrieval", "popular"}.contains(source)))
          << source;
      const double score = number(item["score"]);
      // Four significant digits each.
      EXPECT_NEAR(number(why["model_score"]) * number(why["category_factor"]) * number(why["history_factor"]), score,
                  2e-3 * score)
          << answer.body;
      EXPECT_GT(number(why["pctr"]), 0);
      EXPECT_GT(number(why["pcvr"]), 0);
      EXPECT_EQ(why["category"].is_null(), number(why["category_share"]) == 0) << answer.body;
      if (source == "category") {
        EXPECT_GT(why["because"].get_array().value().size(), 0u) << answer.body;
      }
    }
    ++users;
  }
  EXPECT_GE(users, 20);
  EXPECT_GE(sources.size(), 2u);  // more than one source explained

  // Not asked, not explained; a user without a ranking is explained as the fall-back.
  auto plain = client.get("/v1/users/" + scanned.substr(6, scanned.find('}') - 6) + "/recommendations");
  EXPECT_EQ(plain.body.find("\"why\""), std::string::npos) << plain.body;
  redis({"ZADD", "sr:pop", "3", "i1"});
  auto fallback = client.get("/v1/users/someone-new/recommendations?explain=true");
  ASSERT_EQ(fallback.status, 200);
  EXPECT_NE(fallback.body.find(R"("why":{"source":"popular_fallback"})"), std::string::npos) << fallback.body;
  EXPECT_EQ(learner.stop(), 0);
}

TEST_F(ServeTest, ExplainIsTrueOrFalse) {
  HttpClient client(start_serve());
  auto answer = client.get("/v1/users/u1/recommendations?explain=yes");
  EXPECT_EQ(answer.status, 400);
  EXPECT_EQ(std::string_view(answer.json()["error"].get_string().value()), "bad_explain");
  EXPECT_NE(answer.body.find("got \\\"yes\\\""), std::string::npos) << answer.body;
  EXPECT_EQ(client.get("/v1/users/u1/recommendations?explain=false&k=3").status, 200);
}

}  // namespace
}  // namespace streamrec::testing
