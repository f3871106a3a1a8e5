// The learner on the stream writes what apps read: rankings per user, the
// user's recent clicks, embeddings, the model summary; an unavailable item
// leaves every ranking refreshed after it; the stats file scores the whole
// run at most every 30 s, and exactly at the end.
#include <set>
#include <sstream>

#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

class RankingsTest : public PipelineTest {
 protected:
  // Produces the synthetic stream (items first) with streamrec produce.
  void produce_synthetic(int impressions) {
    Subprocess producer({STREAMREC_BINARY, "produce", "--synthetic", "--impressions", std::to_string(impressions),
                         "--users", "200", "--items", "100"},
                        env(), "", dir_ + "/produce.log");
    ASSERT_EQ(producer.wait(std::chrono::seconds(120)), 0);
  }
  std::vector<std::string> ranking_keys() {
    std::vector<std::string> keys;
    std::istringstream lines(redis_.cli("--scan --pattern 'sr:{u:*}:rec'"));
    for (std::string line; std::getline(lines, line);) keys.push_back(line);
    return keys;
  }
  std::vector<std::string> ranking(const std::string& key) {
    std::vector<std::string> items;
    std::istringstream lines(redis_.cli("ZREVRANGE '" + key + "' 0 -1"));
    for (std::string line; std::getline(lines, line);) items.push_back(line);
    return items;
  }
};

TEST_F(RankingsTest, AnUnavailableItemLeavesEveryRankingRefreshedAfterIt) {
  auto learner = start_learner({"--set", "rankings.top_k=20", "--set", "consumer.batch_max_ms=20"});
  produce_synthetic(20000);
  ASSERT_TRUE(eventually([&] { return ranking_keys().size() >= 150; }, std::chrono::seconds(120)))
      << ranking_keys().size() << " rankings";

  // The item in the most rankings: it must go.
  std::map<std::string, int> appearances;
  auto keys = ranking_keys();
  for (auto& key : keys)
    for (auto& item : ranking(key)) ++appearances[item];
  auto gone = std::max_element(appearances.begin(), appearances.end(),
                               [](auto& a, auto& b) { return a.second < b.second; })->first;
  ASSERT_GE(appearances[gone], 10) << "no item is common enough for the test to mean anything";

  produce_with_kcat({gone}, {R"({"item_id":")" + gone + R"(","category":"c0","price":1,"available":false,"ts":1})"},
                    "items");
  ASSERT_TRUE(eventually([&] { return redis_.cli("HGET 'sr:{i:" + gone + "}:f' available") == "0\n"; },
                         std::chrono::seconds(30)));
  for (auto& key : keys) redis_.cli("DEL '" + key + "'");

  // One more event per user refreshes every ranking.
  std::vector<std::string> users, payloads;
  int k = 0;
  for (auto& key : keys) {
    std::string user = key.substr(std::string("sr:{u:").size());
    user = user.substr(0, user.size() - std::string("}:rec").size());
    users.push_back(user);
    Event click{"late" + std::to_string(k++), EventType::kClick, user, "i1", 1767312000000, "", {}, std::nullopt};
    payloads.push_back(encode_event(click));
  }
  produce_with_kcat(users, payloads);
  // Every ranking that exists again was written after the item went away
  // (other users' rankings may predate it: they are not looked at).
  auto refreshed = [&] {
    std::vector<std::string> again;
    for (auto& key : keys)
      if (redis_.cli("EXISTS '" + key + "'") == "1\n") again.push_back(key);
    return again;
  };
  ASSERT_TRUE(eventually([&] { return refreshed().size() >= keys.size() * 9 / 10; }, std::chrono::seconds(60)))
      << refreshed().size() << " of " << keys.size() << " rankings refreshed";
  for (auto& key : refreshed())
    for (auto& item : ranking(key)) ASSERT_NE(item, gone) << key << " still recommends the unavailable item";
  EXPECT_EQ(learner->stop(), 0);
}

TEST_F(RankingsTest, TheStreamLeavesRecentClicksEmbeddingsAndAModelSummary) {
  // Short label windows, so that this short stream is learned from.
  auto learner = start_learner({"--set", "learner.click_window_s=30", "--set", "learner.purchase_window_s=60"});
  produce_synthetic(5000);
  ASSERT_TRUE(eventually([&] { return !ranking_keys().empty(); }, std::chrono::seconds(60)));
  ASSERT_TRUE(eventually(
      [&] {
        std::string trained = redis_.cli("HGET sr:model events_trained");
        return trained != "\n" && std::stoll(trained) > 0;
      },
      std::chrono::seconds(30)))
      << redis_.cli("HGETALL sr:model");
  EXPECT_NE(redis_.cli("HGET sr:model auc_click"), "\n");

  // Embeddings: float32 x learner.embedding_dim (16), for users and items.
  int users_with_emb = 0;
  std::istringstream lines(redis_.cli("--scan --pattern 'sr:{u:*}:f'"));
  for (std::string key; std::getline(lines, key);) {
    std::string len = redis_.cli("HSTRLEN '" + key + "' emb");
    if (len == "0\n") continue;
    EXPECT_EQ(len, std::to_string(16 * sizeof(float)) + "\n") << key;
    ++users_with_emb;
  }
  EXPECT_GT(users_with_emb, 0);
  EXPECT_EQ(redis_.cli("HSTRLEN 'sr:{i:i1}:f' emb"), std::to_string(16 * sizeof(float)) + "\n");

  // A click shows up in the user's `recent` right away, newest first.
  Event click{"fresh-click", EventType::kClick, "u7", "i42", 1767312000000, "", {}, std::nullopt};
  produce_with_kcat({"u7"}, {encode_event(click)});
  ASSERT_TRUE(eventually([&] { return redis_.cli("HGET 'sr:{u:u7}:f' recent").rfind("[\"i42\"", 0) == 0; },
                         std::chrono::seconds(10)))
      << redis_.cli("HGET 'sr:{u:u7}:f' recent");
  EXPECT_EQ(learner->stop(), 0);
}

TEST_F(RankingsTest, StatsScoreTheWholeRunAtMostEvery30SecondsAndAtTheEnd) {
  auto learner = start_learner({"--status-interval", "0.2", "--set", "learner.click_window_s=1", "--set",
                                "learner.purchase_window_s=2"});
  auto number = [&](const char* field) { return stats_number(stats_file(), field); };
  // Impressions of 40 items to 50 users; items i0-i7 clicked, the rest
  // rarely: both labels, so the AUC is defined.
  auto shown_and_clicked = [](int first, int n) {
    std::vector<Event> events;
    for (int k = first; k < first + n; ++k) {
      std::string user = "u" + std::to_string(k % 50), item = "i" + std::to_string(k % 40);
      std::string request = "r" + std::to_string(k);
      int64_t ts = 1767225600000 + int64_t{k} * 10;
      events.push_back({"s" + std::to_string(k), EventType::kImpression, user, item, ts, request, {}, std::nullopt});
      if (k % 40 < 8 || k % 97 == 0)
        events.push_back({"c" + std::to_string(k), EventType::kClick, user, item, ts + 5, request, {}, std::nullopt});
    }
    return events;
  };
  produce_events(shown_and_clicked(0, 4000));
  ASSERT_TRUE(eventually([&] { return number("auc_samples") > 0; }, std::chrono::seconds(60)));
  const double first_scored = number("auc_samples");
  EXPECT_GE(number("auc_click"), 0);

  produce_events(shown_and_clicked(4000, 4000));
  ASSERT_TRUE(eventually([&] { return number("samples_learned") > first_scored; }, std::chrono::seconds(60)));
  EXPECT_EQ(number("auc_samples"), first_scored) << "scored the whole run again within 30 s";

  EXPECT_EQ(learner->stop(), 0);
  EXPECT_EQ(number("auc_samples"), number("samples_learned")) << "the final stats score every sample";
  EXPECT_GE(number("auc_click"), 0);
}

}  // namespace
}  // namespace streamrec::testing
