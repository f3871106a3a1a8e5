// A click changes the user's recommendations at once: after three clicks on
// items of one category, that category's other items rise in the user's
// ranking (all of its rankings.top_k items) within a second of wall time,
// long before any label window closes. The whole ranking, not its top 10:
// where the category lands depends on the weights the learned blend took
// from the stream (they differ run to run with the pipeline's timing), that
// it rises does not. Its other items, not the clicked ones: where those go
// is re-consumption, which the blend learns per stream (ranking/learned_blend.h).
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

// The synthetic stream `streamrec produce --synthetic ARGS` sends, as files
// (the same seed and sizes make the same stream): the catalog as it stands
// at the end of the stream, and how many events of each type each user has.
struct SyntheticStream {
  std::map<std::string, std::string> category_of;               // every item
  std::map<std::string, std::vector<std::string>> available_in;  // per category, its available items
  std::map<std::pair<std::string, EventType>, int64_t> events_of;  // (user, type) -> count
};

SyntheticStream read_synthetic_stream(const std::string& dir, const std::string& args) {
  int rc = -1;
  std::string out = run_shell(std::string(STREAMREC_BINARY) + " produce --synthetic --to-file " + dir + args + " 2>&1", &rc);
  EXPECT_EQ(rc, 0) << out;
  SyntheticStream stream;
  EventDecoder decoder;
  std::map<std::string, Item> last;  // an item's later messages (churn) replace its earlier ones
  std::ifstream items(dir + "/items.jsonl");
  for (std::string line; std::getline(items, line);) {
    Item item = std::get<Item>(decoder.decode_item(line));
    last[item.item_id] = item;
  }
  for (auto& [id, item] : last) {
    stream.category_of[id] = item.category;
    if (item.available) stream.available_in[item.category].push_back(id);
  }
  std::ifstream events(dir + "/events.jsonl");
  for (std::string line; std::getline(events, line);) {
    Event event = std::get<Event>(decoder.decode_event(line));
    ++stream.events_of[{event.user_id, event.type}];
  }
  return stream;
}

std::string joined(const std::vector<std::string>& args) {
  std::string out;
  for (auto& a : args) out += " " + a;
  return out;
}

TEST_F(PipelineTest, ThreeClicksInOneCategoryRaiseItWithinOneSecond) {
  const std::vector<std::string> sizes = {"--impressions", "30000", "--users", "200", "--items", "100"};
  const SyntheticStream stream = read_synthetic_stream(dir_ + "/stream", joined(sizes));
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
  // The backlog drained, so that what follows is the clicks' doing: the
  // model learned every impression of the stream (each one's label windows
  // close within it), and the ranking it made then is in Redis.
  int64_t impressions = 0;
  for (auto& [user_and_type, n] : stream.events_of) impressions += user_and_type.second == EventType::kImpression ? n : 0;
  ASSERT_TRUE(eventually([&] { return redis_.cli("HGET sr:model events_trained") == std::to_string(impressions) + "\n"; },
                         std::chrono::seconds(60)))
      << "the model learned " << redis_.cli("HGET sr:model events_trained") << " of " << impressions << " impressions";
  std::this_thread::sleep_for(scaled(std::chrono::seconds(1)));

  // Three clicks on the first three available items of a category with
  // six or more, the one whose other items are least present now (and not
  // all present, so that one can rise). Those others are counted, not the
  // clicked items: whether a user gets back what they just clicked is
  // re-consumption, which the blend fits to the stream either way, and here
  // it often ranks them last: in event time the clicks come after a day of
  // sparse late events, so they make their items the most popular by far
  // (half-life an hour), and the popularity weight fitted to this stream is
  // negative in most runs (beside exposure's it reads as clicks per
  // impression). The others rise through the category's share of the
  // user's recent clicks.
  auto others_ranked = [&](const std::string& category) {
    const std::vector<std::string>& ids = stream.available_in.at(category);
    const std::set<std::string> others(ids.begin() + 3, ids.end());
    int n = 0;
    for (auto& id : top()) n += others.count(id);
    return n;
  };
  std::string chosen;
  int lowest = 1 << 30;
  for (auto& [category, ids] : stream.available_in) {
    if (ids.size() < 6) continue;
    const int n = others_ranked(category);
    if (n < lowest && n < static_cast<int>(ids.size()) - 3) lowest = n, chosen = category;
  }
  ASSERT_FALSE(chosen.empty()) << "every category's other items are all in the ranking: nothing can rise";

  std::vector<Event> clicks;
  for (int i = 0; i < 3; ++i)
    clicks.push_back({"rt" + std::to_string(i), EventType::kClick, user, stream.available_in.at(chosen)[i],
                      1767312000000 + i, "", {}, std::nullopt});
  auto clicked_at = std::chrono::steady_clock::now();
  produce_events(clicks);
  bool rose = eventually([&] { return others_ranked(chosen) > lowest; }, std::chrono::milliseconds(1000));
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - clicked_at);
  std::ifstream stats(stats_file());
  EXPECT_TRUE(rose) << "the other items of " << chosen << " had " << lowest << " places of the ranking and still have "
                    << others_ranked(chosen) << " after " << waited.count() << " ms; recent "
                    << redis_.cli("HGET 'sr:{u:u7}:f' recent") << "ranking "
                    << redis_.cli("ZREVRANGE '" + key + "' 0 -1 WITHSCORES") << "why "
                    << redis_.cli("HGETALL 'sr:{u:u7}:why'") << "stats "
                    << std::string(std::istreambuf_iterator<char>(stats), {});
  EXPECT_EQ(learner->stop(), 0);
}

// Rankings are rewritten for what changes them now: a click does, at once;
// impressions (what the app just showed) do not rewrite a fresh ranking.
TEST_F(PipelineTest, AClickRewritesTheRankingAndImpressionsLeaveAFreshOneAlone) {
  const std::vector<std::string> sizes = {"--impressions", "3000", "--users", "50", "--items", "100"};
  const SyntheticStream stream = read_synthetic_stream(dir_ + "/stream", joined(sizes));
  auto learner = start_learner();
  std::vector<std::string> argv = {STREAMREC_BINARY, "produce", "--synthetic"};
  argv.insert(argv.end(), sizes.begin(), sizes.end());
  Subprocess producer(argv, env(), "", dir_ + "/produce.log");
  ASSERT_EQ(producer.wait(std::chrono::seconds(60)), 0);
  const std::string user = "u7", key = "sr:{u:u7}:rec", features = "sr:{u:u7}:f";
  auto impressions = [&] { return std::stoll("0" + redis_.cli("HGET '" + features + "' impressions")); };
  // The user's backlog drained: every impression of theirs counted (then
  // the 5 below are the only ones to come), and their ranking written.
  const int64_t before = stream.events_of.at({user, EventType::kImpression});
  ASSERT_TRUE(eventually([&] { return impressions() == before; }, std::chrono::seconds(60)))
      << user << " has " << impressions() << " of " << before << " impressions counted";
  ASSERT_TRUE(eventually([&] { return redis_.cli("ZCARD '" + key + "'") != "0\n"; }, std::chrono::seconds(60)))
      << "no ranking for " << user;
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the rankings asked for by the last events are written

  // A member no ranking has: any rewrite (DEL + ZADD) removes it.
  ASSERT_EQ(redis_.cli("ZADD '" + key + "' 1000 marker"), "1\n");
  auto marked = [&] { return redis_.cli("ZSCORE '" + key + "' marker") == "1000\n"; };
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
