// A click changes the user's recommendations at once: after three clicks on
// items of one category, that category rises in the user's ranking (all of
// its rankings.top_k items) within a second of wall time, long before any
// label window closes. The whole ranking, not its top 10: where the
// category lands depends on the weights the learned blend took from the
// stream (they differ run to run with the pipeline's timing), that it
// rises does not.
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

TEST_F(PipelineTest, ThreeClicksInOneCategoryRaiseItWithinOneSecond) {
  const std::vector<std::string> sizes = {"--impressions", "30000", "--users", "200", "--items", "100"};
  // The catalog, as the producer will send it (same seed, same sizes).
  std::string files = dir_ + "/stream";
  std::string args;
  for (auto& s : sizes) args += " " + s;
  int rc = -1;
  std::string out = run_shell(std::string(STREAMREC_BINARY) + " produce --synthetic --to-file " + files + args + " 2>&1", &rc);
  ASSERT_EQ(rc, 0) << out;
  std::map<std::string, std::string> category_of;
  std::map<std::string, std::vector<std::string>> items_in;
  EventDecoder decoder;
  std::ifstream items(files + "/items.jsonl");
  for (std::string line; std::getline(items, line);) {
    Item item = std::get<Item>(decoder.decode_item(line));
    category_of[item.item_id] = item.category;
    items_in[item.category].push_back(item.item_id);
  }

  auto learner = start_learner({"--set", "learner.click_window_s=120", "--set", "learner.purchase_window_s=300"});
  std::vector<std::string> argv = {STREAMREC_BINARY, "produce", "--synthetic"};
  argv.insert(argv.end(), sizes.begin(), sizes.end());
  Subprocess producer(argv, env(), "", dir_ + "/produce.log");
  ASSERT_EQ(producer.wait(std::chrono::seconds(120)), 0);

  const std::string user = "u7", key = "sr:{u:u7}:rec";
  auto top = [&] {
    std::vector<std::string> ids;
    std::istringstream lines(redis_.cli("ZREVRANGE '" + key + "' 0 -1"));
    for (std::string line; std::getline(lines, line);) ids.push_back(line);
    return ids;
  };
  ASSERT_TRUE(eventually([&] { return top().size() >= 10; }, std::chrono::seconds(60))) << "no ranking for " << user;
  // Let the backlog drain, so that what follows is the clicks' doing.
  ASSERT_TRUE(eventually([&] { return redis_.cli("HGET sr:model events_trained") != "\n"; }, std::chrono::seconds(30)));
  std::this_thread::sleep_for(scaled(std::chrono::seconds(2)));

  // The category with at least three items that is least present now.
  auto share = [&](const std::string& category) {
    int n = 0;
    for (auto& id : top()) n += category_of[id] == category;
    return n;
  };
  std::string chosen;
  int lowest = 1 << 30;
  for (auto& [category, ids] : items_in)
    if (ids.size() >= 3 && share(category) < lowest) lowest = share(category), chosen = category;
  ASSERT_FALSE(chosen.empty());

  std::vector<Event> clicks;
  for (int i = 0; i < 3; ++i)
    clicks.push_back({"rt" + std::to_string(i), EventType::kClick, user, items_in[chosen][i], 1767312000000 + i, "", {},
                      std::nullopt});
  auto clicked_at = std::chrono::steady_clock::now();
  produce_events(clicks);
  bool rose = eventually([&] { return share(chosen) > lowest; }, std::chrono::milliseconds(1000));
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - clicked_at);
  EXPECT_TRUE(rose) << chosen << " had " << lowest << " of the ranking and still has " << share(chosen) << " after "
                    << waited.count() << " ms; recent " << redis_.cli("HGET 'sr:{u:u7}:f' recent")
                    << "ranking " << redis_.cli("ZREVRANGE '" + key + "' 0 -1 WITHSCORES");
  EXPECT_EQ(learner->stop(), 0);
}

}  // namespace
}  // namespace streamrec::testing

namespace streamrec::testing {
namespace {

// Rankings are rewritten for what changes them now: a click does, at once;
// impressions (what the app just showed) do not rewrite a fresh ranking.
TEST_F(PipelineTest, AClickRewritesTheRankingAndImpressionsLeaveAFreshOneAlone) {
  auto learner = start_learner();
  std::vector<std::string> argv = {STREAMREC_BINARY, "produce", "--synthetic", "--impressions", "3000",
                                   "--users",        "50",      "--items",     "100"};
  Subprocess producer(argv, env(), "", dir_ + "/produce.log");
  ASSERT_EQ(producer.wait(std::chrono::seconds(60)), 0);
  const std::string user = "u7", key = "sr:{u:u7}:rec", features = "sr:{u:u7}:f";
  ASSERT_TRUE(eventually([&] { return redis_.cli("ZCARD '" + key + "'") != "0\n"; }, std::chrono::seconds(60)))
      << "no ranking for " << user;
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the backlog drains

  // A member no ranking has: any rewrite (DEL + ZADD) removes it.
  ASSERT_EQ(redis_.cli("ZADD '" + key + "' 1000 marker"), "1\n");
  auto marked = [&] { return redis_.cli("ZSCORE '" + key + "' marker") == "1000\n"; };
  auto impressions = [&] { return std::stoll("0" + redis_.cli("HGET '" + features + "' impressions")); };
  int64_t before = impressions();
  std::vector<Event> shown;
  for (int i = 0; i < 5; ++i)
    shown.push_back({"imp" + std::to_string(i), EventType::kImpression, user, "i" + std::to_string(i),
                     1767312000000 + i, "r1", {}, std::nullopt});
  produce_events(shown);
  ASSERT_TRUE(eventually([&] { return impressions() == before + 5; }, std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // longer than any refresh would take
  EXPECT_TRUE(marked()) << "impressions rewrote a fresh ranking: " << redis_.cli("ZREVRANGE '" + key + "' 0 4");

  produce_events({{"clk0", EventType::kClick, user, "i0", 1767312000010, "r1", {}, std::nullopt}});
  EXPECT_TRUE(eventually([&] { return !marked(); }, std::chrono::milliseconds(1000)))
      << "the click did not rewrite the ranking within a second";
  EXPECT_EQ(learner->stop(), 0);
}

}  // namespace
}  // namespace streamrec::testing
