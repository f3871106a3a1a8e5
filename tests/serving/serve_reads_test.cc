// `streamrec serve` reads what the learner keeps in Redis: a user's ranking
// best first without unavailable items, the sr:pop fall-back, features with
// embeddings as arrays; health, readiness and keep-alive.
#include <cmath>

#include "core/wall_clock.h"
#include "tests/serving/serve_fixture.h"

namespace streamrec::testing {
namespace {

namespace http = boost::beast::http;

std::vector<std::string> item_ids(simdjson::dom::element answer) {
  std::vector<std::string> ids;
  for (simdjson::dom::element item : answer["items"].get_array()) ids.emplace_back(std::string_view(item["item_id"]));
  return ids;
}

TEST_F(ServeTest, RecommendationsAreTheRankingBestFirstWithoutUnavailableItems) {
  redis({"ZADD", keys_.user_rankings("u1"), "0.9", "i1", "0.8", "i2", "0.7", "i3", "0.6", "i4"});
  redis({"HSET", keys_.item_features("i2"), "available", "0"});
  redis({"HSET", keys_.item_features("i3"), "available", "1"});
  redis({"HSET", keys_.user_features("u1"), "rec_ts", std::to_string(wall_clock_ms() - 1500)});
  redis({"HSET", keys_.model(), "version", "7", "updated_ts", "1767225600000"});
  HttpClient client(start_serve());

  HttpAnswer answer = client.get("/v1/users/u1/recommendations?k=2");
  ASSERT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(answer.headers["Content-Type"], "application/json");
  auto json = answer.json();
  EXPECT_EQ(std::string_view(json["user_id"]), "u1");
  EXPECT_EQ(std::string_view(json["source"]), "personal");
  EXPECT_EQ(item_ids(json), (std::vector<std::string>{"i1", "i3"}));
  EXPECT_DOUBLE_EQ(double(json["items"].at(0)["score"]), 0.9);
  EXPECT_DOUBLE_EQ(double(json["items"].at(1)["score"]), 0.7);
  EXPECT_EQ(int64_t(json["model_version"]), 7);
  EXPECT_EQ(int64_t(json["model_updated_ts"]), 1767225600000);
  EXPECT_GE(int64_t(json["ranking_age_ms"]), 1500);
  EXPECT_LT(int64_t(json["ranking_age_ms"]), 60000);

  // Default k is 10: every available item of the ranking.
  EXPECT_EQ(item_ids(client.get("/v1/users/u1/recommendations").json()),
            (std::vector<std::string>{"i1", "i3", "i4"}));
}

TEST_F(ServeTest, UnavailableItemsNeverAppearEvenWhenMostOfTheRankingIsOffSale) {
  std::vector<std::string> zadd = {"ZADD", keys_.user_rankings("u2")};
  std::vector<std::string> expected;
  for (int i = 0; i < 200; ++i) {
    const std::string item = "i" + std::to_string(i);
    zadd.push_back(std::to_string(1000 - i));
    zadd.push_back(item);
    if (i % 10 == 9) expected.push_back(item);  // one in ten is still on sale
    else redis({"HSET", keys_.item_features(item), "available", "0"});
  }
  redis(zadd);
  expected.resize(15);
  HttpClient client(start_serve());
  auto answer = client.get("/v1/users/u2/recommendations?k=15");
  ASSERT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(item_ids(answer.json()), expected);
}

TEST_F(ServeTest, AUserWithoutARankingGetsThePopularItemsAvailableNow) {
  redis({"ZADD", keys_.popularity(), "30", "p1", "20", "p2", "10", "p3", "5", "p4"});
  redis({"HSET", keys_.item_features("p2"), "available", "0"});
  HttpClient client(start_serve());
  auto answer = client.get("/v1/users/newcomer/recommendations?k=3");
  ASSERT_EQ(answer.status, 200) << answer.body;
  auto json = answer.json();
  EXPECT_EQ(std::string_view(json["source"]), "popular");
  EXPECT_EQ(item_ids(json), (std::vector<std::string>{"p1", "p3", "p4"}));
  EXPECT_TRUE(json["ranking_age_ms"].is_null());
  EXPECT_TRUE(json["model_version"].is_null());  // no sr:model yet
}

TEST_F(ServeTest, AvailabilityComesFromSrAvailableThenFromTheItemsOwnHash) {
  redis({"ZADD", keys_.user_rankings("u3"), "0.9", "a1", "0.8", "a2", "0.7", "a3", "0.6", "a4"});
  // sr:available is what the learner writes with each item's hash (the two
  // never disagree there): here they do, to show which one the read uses.
  redis({"HSET", keys_.availability(), "a1", "0", "a2", "1"});
  redis({"HSET", keys_.item_features("a1"), "available", "1"});
  redis({"HSET", keys_.item_features("a2"), "available", "0"});
  // Not in sr:available (written before it existed): the item's hash says.
  redis({"HSET", keys_.item_features("a3"), "available", "0"});
  HttpClient client(start_serve());
  auto answer = client.get("/v1/users/u3/recommendations?k=4");
  ASSERT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(item_ids(answer.json()), (std::vector<std::string>{"a2", "a4"}));
}

TEST_F(ServeTest, ReadsGoOnWhenRedisLostTheReadScript) {
  redis({"ZADD", keys_.user_rankings("u1"), "0.9", "i1", "0.8", "i2"});
  HttpClient client(start_serve());
  ASSERT_EQ(item_ids(client.get("/v1/users/u1/recommendations").json()), (std::vector<std::string>{"i1", "i2"}));
  redis({"SCRIPT", "FLUSH"});  // as after a restart: EVALSHA answers NOSCRIPT
  auto answer = client.get("/v1/users/u1/recommendations");
  ASSERT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(item_ids(answer.json()), (std::vector<std::string>{"i1", "i2"}));
  EXPECT_EQ(client.get("/v1/users/u1/recommendations").status, 200);
}

TEST_F(ServeTest, ReadsNeedOnlyTheLeastPrivilegeUserOfTheDocs) {
  // docs/serving.md, "Redis access": the read script needs +evalsha and +eval.
  ASSERT_EQ(redis_->cli("ACL SETUSER streamrec-serve on '>serve-pw' resetkeys '~sr:*' resetchannels -@all +auth "
                        "+hello +ping +select +zrevrange +hget +hmget +hgetall +lrange +del +evalsha +eval"),
            "OK\n");
  redis({"ZADD", keys_.user_rankings("u1"), "0.9", "i1", "0.8", "i2"});
  redis({"HSET", keys_.availability(), "i2", "0"});
  redis({"SCRIPT", "FLUSH"});  // the first read loads it (EVAL), the next ones name it (EVALSHA)
  std::string url = redis_->url();
  url.replace(0, std::string_view("redis://").size(), "redis://streamrec-serve:serve-pw@");
  HttpClient client(start_serve({{"STREAMREC_REDIS_URL", url}}));
  for (int i = 0; i < 2; ++i) {
    auto answer = client.get("/v1/users/u1/recommendations");
    ASSERT_EQ(answer.status, 200) << answer.body;
    EXPECT_EQ(item_ids(answer.json()), (std::vector<std::string>{"i1"}));
  }
}

TEST_F(ServeTest, FeaturesComeWithTypedFieldsAndEmbeddingsAsArrays) {
  const std::vector<float> emb = {0.25f, -1.5f, 3.0e-3f};
  redis({"HSET", keys_.user_features("u%/1"), "impressions", "12", "clicks", "3", "purchases", "1", "ts",
         "1767225600123", "recent", R"(["i9","i4"])", "emb", float32_bytes(emb)});
  redis({"HSET", keys_.item_features("i9"), "category", "books", "price", "12.5", "available", "1", "clicks", "4",
         "emb", float32_bytes({1.0f, 2.0f})});
  HttpClient client(start_serve());

  auto user = client.get("/v1/users/u%25%2F1/features");  // the id u%/1, escaped
  ASSERT_EQ(user.status, 200) << user.body;
  auto u = user.json();
  EXPECT_EQ(std::string_view(u["user_id"]), "u%/1");
  EXPECT_EQ(int64_t(u["impressions"]), 12);
  EXPECT_EQ(int64_t(u["clicks"]), 3);
  EXPECT_EQ(int64_t(u["ts"]), 1767225600123);
  EXPECT_EQ(std::string_view(u["recent"].at(0)), "i9");
  simdjson::dom::array values = u["emb"].get_array();
  ASSERT_EQ(values.size(), emb.size());
  for (size_t i = 0; i < emb.size(); ++i) EXPECT_FLOAT_EQ(float(double(values.at(i))), emb[i]) << i;

  auto item = client.get("/v1/items/i9");
  ASSERT_EQ(item.status, 200) << item.body;
  auto it = item.json();
  EXPECT_EQ(std::string_view(it["category"]), "books");
  EXPECT_DOUBLE_EQ(double(it["price"]), 12.5);
  EXPECT_EQ(bool(it["available"]), true);
  EXPECT_EQ(int64_t(it["clicks"]), 4);
  EXPECT_EQ(it["emb"].get_array().size(), 2u);

  auto missing = client.get("/v1/items/nothing-here");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(std::string_view(missing.json()["error"]), "not_found");
}

TEST_F(ServeTest, HealthReadinessAndKeepAlive) {
  HttpClient client(start_serve());
  auto health = client.get("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_TRUE(health.keep_alive);
  const int local_port = client.local_port();
  auto ready = client.get("/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(std::string_view(ready.json()["redis"]), "ok");
  EXPECT_EQ(std::string_view(ready.json()["kafka"]), "ok");
  EXPECT_EQ(client.local_port(), local_port) << "the second request used a new connection";

  auto closing = client.request(http::verb::get, "/healthz", "", {{"Connection", "close"}});
  EXPECT_EQ(closing.status, 200);
  EXPECT_FALSE(closing.keep_alive);
}

TEST_F(ServeTest, ReadinessNamesWhatIsUnreachable) {
  const std::string nowhere = std::to_string(free_port());
  HttpClient client(start_serve({{"STREAMREC_REDIS_URL", "redis://127.0.0.1:" + nowhere + "/0"},
                                 {"STREAMREC_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:" + nowhere}}));
  EXPECT_EQ(client.get("/healthz").status, 200);  // alive, though not ready
  auto ready = client.get("/readyz");
  EXPECT_EQ(ready.status, 503) << ready.body;
  auto json = ready.json();
  EXPECT_FALSE(bool(json["ready"]));
  EXPECT_NE(std::string_view(json["redis"]).find("cannot connect"), std::string_view::npos) << ready.body;
  EXPECT_NE(std::string_view(json["kafka"]).find("no broker answered"), std::string_view::npos) << ready.body;
  auto reads = client.get("/v1/users/u1/recommendations");
  EXPECT_EQ(reads.status, 503);
  EXPECT_EQ(std::string_view(reads.json()["error"]), "redis_unavailable");
}

TEST_F(ServeTest, ServesAgainOnceRedisIsBack) {
  redis({"ZADD", keys_.user_rankings("u1"), "1", "i1"});
  HttpClient client(start_serve());
  ASSERT_EQ(client.get("/v1/users/u1/recommendations").status, 200);
  // Redis drops every client connection (as on a restart): the pooled
  // connections break, the next reads reconnect.
  redis_->cli("CLIENT KILL TYPE normal");
  int ok = 0;
  for (int i = 0; i < 6; ++i) ok += client.get("/v1/users/u1/recommendations").status == 200;
  EXPECT_GE(ok, 4);  // at most one failed read per pooled connection (two threads)
  EXPECT_EQ(client.get("/v1/users/u1/recommendations").status, 200);
}

}  // namespace
}  // namespace streamrec::testing
