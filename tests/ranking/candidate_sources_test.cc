// The candidate sources that read the user's history (ranking/ranker.h):
// the re-consumption policy per behaviour, the user's own items as
// candidates, and co-visitation counts that are exact, also when a ranker
// restored from a checkpoint replays the rest of the stream.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "ranking/ranker.h"
#include "tests/online_learner/test_stream.h"

namespace streamrec::ranking {
namespace {

using namespace streamrec::learner;
using learner::testing::make_event;
using learner::testing::make_stream;

std::unique_ptr<Learner> trained_learner() {
  LearnerConfig config;
  auto learner = std::move(Learner::create(config)).value();
  for (int i = 0; i < 40; ++i)
    learner->add_item(Item{"i" + std::to_string(i), "c" + std::to_string(i % 4), 2.0 + i, true, 0});
  for (const Event& e : make_stream(2000, 20, 30, 7)) learner->add_event(e);
  learner->finish();
  return learner;
}

// The user's ranking, with "v"'s recent clicks (so retrieval runs over the
// whole catalog).
std::set<std::string> ranked(Ranker& ranker, const std::string& user,
                             const std::vector<std::string>& recent = {"i3", "i1"}) {
  std::set<std::string> out;
  for (const auto& [item, score] : ranker.rank(user, recent, {}, 3'000'000)) out.insert(item);
  return out;
}

// A user "v" who viewed i1, i2, i3 and bought i2.
void feed_history(Ranker& ranker) {
  ranker.add_event(make_event("v1", EventType::kClick, "v", "i1", 2'000'000));
  ranker.add_event(make_event("v2", EventType::kClick, "v", "i2", 2'001'000));
  ranker.add_event(make_event("v3", EventType::kClick, "v", "i3", 2'002'000));
  ranker.add_event(make_event("v4", EventType::kPurchase, "v", "i2", 2'003'000));
}

RankingConfig everything_a_candidate() {
  RankingConfig config;
  config.retrieval_candidates = 40;
  config.top_k = 40;
  return config;
}

TEST(ReconsumptionPolicy, ByDefaultViewedItemsComeBackAndBoughtOnesDoNot) {
  auto learner = trained_learner();
  Ranker ranker(everything_a_candidate(), PopularityConfig{}, *learner);
  feed_history(ranker);
  auto got = ranked(ranker, "v");
  EXPECT_TRUE(got.contains("i1"));
  EXPECT_TRUE(got.contains("i3"));
  EXPECT_FALSE(got.contains("i2"));
  EXPECT_TRUE(got.contains("i4"));  // everything else is still a candidate
}

TEST(ReconsumptionPolicy, NotReshowingViewedItemsRemovesThemFromEverySource) {
  auto learner = trained_learner();
  RankingConfig config = everything_a_candidate();
  config.reshow_viewed = false;
  Ranker ranker(config, PopularityConfig{}, *learner);
  feed_history(ranker);
  auto got = ranked(ranker, "v");
  for (const char* item : {"i1", "i2", "i3"}) EXPECT_FALSE(got.contains(item)) << item;
  EXPECT_EQ(got.size(), 37u);
}

TEST(ReconsumptionPolicy, ReshowingBoughtItemsKeepsThem) {
  auto learner = trained_learner();
  RankingConfig config = everything_a_candidate();
  config.reshow_bought = true;
  Ranker ranker(config, PopularityConfig{}, *learner);
  feed_history(ranker);
  auto got = ranked(ranker, "v");
  for (const char* item : {"i1", "i2", "i3"}) EXPECT_TRUE(got.contains(item)) << item;
}

TEST(CandidateSources, TheUsersOwnItemsAloneAndTheirShareOfTheRankings) {
  auto learner = trained_learner();
  RankingConfig config;
  config.retrieval_candidates = config.popular_candidates = config.category_candidates = 0;
  config.covisit_candidates = 0;
  config.recent_candidates = 10;
  Ranker ranker(config, PopularityConfig{}, *learner);
  feed_history(ranker);
  EXPECT_EQ(ranked(ranker, "v"), (std::set<std::string>{"i1", "i3"}));
  EXPECT_EQ(ranker.top_k_sources()[static_cast<size_t>(CandidateSource::kRecent)], 2u);
  EXPECT_TRUE(ranked(ranker, "nobody", {}).empty());  // no history, no row: apps fall back to sr:pop
}

TEST(CandidateSources, RecentBoostPutsTheLatestViewFirst) {
  auto learner = trained_learner();
  RankingConfig config = everything_a_candidate();
  config.recent_boost = 1000;
  Ranker ranker(config, PopularityConfig{}, *learner);
  feed_history(ranker);
  auto got = ranker.rank("v", {"i3", "i1"}, {}, 3'000'000);
  ASSERT_GE(got.size(), 2u);
  EXPECT_EQ(got[0].first, "i3");
  EXPECT_EQ(got[1].first, "i1");
}

// Others viewed i7 right after i1, and i9 after i7; "v" viewed i1.
void feed_covisits(Ranker& ranker) {
  ranker.add_event(make_event("a1", EventType::kClick, "a", "i1", 1'000'000));
  ranker.add_event(make_event("a2", EventType::kClick, "a", "i7", 1'001'000));
  ranker.add_event(make_event("b1", EventType::kClick, "b", "i7", 1'002'000));
  ranker.add_event(make_event("b2", EventType::kClick, "b", "i9", 1'003'000));
  ranker.add_event(make_event("v1", EventType::kClick, "v", "i1", 2'000'000));
}

RankingConfig covisits_alone() {
  RankingConfig config;
  config.retrieval_candidates = config.popular_candidates = config.category_candidates = 0;
  config.recent_candidates = 0;
  return config;
}

TEST(CandidateSources, CovisitedItemsAreCandidates) {
  auto learner = trained_learner();
  RankingConfig config = covisits_alone();
  config.covisit_second_step = 0;
  Ranker ranker(config, PopularityConfig{}, *learner);
  feed_covisits(ranker);
  EXPECT_EQ(ranked(ranker, "v", {}), (std::set<std::string>{"i7"}));
  EXPECT_EQ(ranker.top_k_sources()[static_cast<size_t>(CandidateSource::kCovisit)], 1u);
}

TEST(CandidateSources, ItemsCovisitedWithTheCovisitedOnesAreCandidatesAfterThem) {
  auto learner = trained_learner();
  RankingConfig config = covisits_alone();
  config.blend = "fixed";
  config.covisit_boost = 1000;  // the co-visits decide the order, not the model
  Ranker ranker(config, PopularityConfig{}, *learner);
  feed_covisits(ranker);
  std::vector<Explanation> why;
  auto got = ranker.rank("v", {}, {}, 3'000'000, &why);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].first, "i7");  // co-visited with i1
  EXPECT_EQ(got[1].first, "i9");  // co-visited with i7: half of i7's weight times i9's share of i7's co-visits
  ASSERT_EQ(why.size(), 2u);
  EXPECT_STREQ(why[1].source, "covisit");
  EXPECT_EQ(why[1].because, (std::vector<std::string>{"i1"}));  // the user's item it was reached from
}

// i9 was co-visited once with the user's newest view (i2), i8 once with the
// view before it (i1), and i8 more recently (so more popular: it would win a
// tie). The newest view weighs twice the one before: i9 is the candidate.
TEST(CandidateSources, CoVisitsWithTheNewestViewWeighMost) {
  auto learner = trained_learner();
  RankingConfig config = covisits_alone();
  config.covisit_second_step = 0;
  config.covisit_candidates = 1;
  config.reshow_viewed = false;  // i1 and i2 co-visit each other: not candidates here
  Ranker ranker(config, PopularityConfig{}, *learner);
  ranker.add_event(make_event("a1", EventType::kClick, "a", "i2", 1'000'000));
  ranker.add_event(make_event("a2", EventType::kClick, "a", "i9", 1'001'000));
  ranker.add_event(make_event("b1", EventType::kClick, "b", "i1", 1'002'000));
  ranker.add_event(make_event("b2", EventType::kClick, "b", "i8", 1'003'000));
  ranker.add_event(make_event("v1", EventType::kClick, "v", "i1", 2'000'000));
  ranker.add_event(make_event("v2", EventType::kClick, "v", "i2", 2'001'000));
  EXPECT_EQ(ranked(ranker, "v", {}), (std::set<std::string>{"i9"}));
}

TEST(CandidateSources, TheBrandsTheUserJustClickedProposeTheirMostPopularItems) {
  LearnerConfig learner_config;
  auto learner = std::move(Learner::create(learner_config)).value();
  // i0..i39 in four categories; i0..i9 also of brand "acme" (i0..i4 of
  // category c0, the rest elsewhere), the others without a brand.
  for (int i = 0; i < 40; ++i)
    learner->add_item(Item{"i" + std::to_string(i), "c" + std::to_string(i % 4), 2.0 + i, true, 0,
                           i < 10 ? "acme" : ""});
  for (const Event& e : make_stream(2000, 20, 30, 7)) learner->add_event(e);
  learner->finish();
  RankingConfig config;
  config.retrieval_candidates = config.popular_candidates = config.category_candidates = 0;
  config.covisit_candidates = config.recent_candidates = 0;
  config.brand_candidates = 3;
  config.top_k = 10;
  Ranker ranker(config, PopularityConfig{}, *learner);
  // Popularity: i7 most, then i5, then i9; i20 (no brand) more than all.
  int n = 0;
  for (auto [item, clicks] : std::vector<std::pair<std::string, int>>{{"i7", 6}, {"i5", 4}, {"i9", 3}, {"i20", 9}})
    for (int c = 0; c < clicks; ++c, ++n)
      ranker.add_event(make_event("p" + std::to_string(n), EventType::kClick, "other" + std::to_string(n), item,
                                  1'000'000 + n));
  EXPECT_EQ(ranked(ranker, "v", {"i1"}), (std::set<std::string>{"i7", "i5", "i9"}));
  EXPECT_EQ(ranker.top_k_sources()[static_cast<size_t>(CandidateSource::kBrand)], 3u);
  EXPECT_TRUE(ranked(ranker, "v", {"i30"}).empty()) << "an item without a brand proposes nothing";
  config.brand_candidates = 0;
  Ranker off(config, PopularityConfig{}, *learner);
  EXPECT_TRUE(ranked(off, "v", {"i1"}).empty());
}

// Clicks of 8 users over 15 items, now and then far apart in time.
std::vector<Event> clicks() {
  SplitMix rng(5);
  std::vector<Event> out;
  int64_t ts = 1'000'000;
  for (int n = 0; n < 600; ++n) {
    ts += rng.uniform() < 0.05 ? 2 * 3'600'000 : 1000 + static_cast<int64_t>(rng.below(300'000));
    EventType type = rng.uniform() < 0.15 ? EventType::kPurchase : EventType::kClick;
    out.push_back(make_event("e" + std::to_string(n), type, "u" + std::to_string(rng.below(8)),
                             "i" + std::to_string(rng.below(15)), ts));
  }
  return out;
}

// By the definition: each click of j against the first window_items of the
// user's distinct viewed items before it, viewed at most window_s earlier.
std::map<std::pair<std::string, std::string>, uint32_t> brute_force(const std::vector<Event>& events,
                                                                    size_t window_items, int64_t window_ms) {
  std::map<std::pair<std::string, std::string>, uint32_t> count;
  for (size_t j = 0; j < events.size(); ++j) {
    const Event& e = events[j];
    if (e.type != EventType::kClick) continue;
    std::vector<std::pair<std::string, int64_t>> before;  // distinct, newest first, latest view time
    std::set<std::string> seen;
    for (size_t m = j; m-- > 0;)
      if (events[m].user_id == e.user_id && events[m].type == EventType::kClick && seen.insert(events[m].item_id).second)
        before.emplace_back(events[m].item_id, events[m].ts_ms);
    for (size_t m = 0; m < before.size() && m < window_items; ++m)
      if (before[m].first != e.item_id && e.ts_ms - before[m].second <= window_ms) {
        ++count[{before[m].first, e.item_id}];
        ++count[{e.item_id, before[m].first}];
      }
  }
  return count;
}

void expect_counts(const Ranker& ranker, const std::map<std::pair<std::string, std::string>, uint32_t>& want) {
  uint64_t nonzero = 0;
  for (int a = 0; a < 15; ++a)
    for (int b = 0; b < 15; ++b) {
      std::string ia = "i" + std::to_string(a), ib = "i" + std::to_string(b);
      auto it = want.find({ia, ib});
      uint32_t expected = it == want.end() ? 0 : it->second;
      EXPECT_EQ(ranker.covisitation().count(ia, ib), expected) << ia << " " << ib;
      nonzero += expected > 0;
    }
  EXPECT_GT(nonzero, 50u);  // the stream co-visits most pairs
}

TEST(CoVisitationCounts, ExactByTheDefinition) {
  auto learner = trained_learner();
  RankingConfig config;
  config.covisit_window_items = 3;
  config.covisit_window_s = 600;
  Ranker ranker(config, PopularityConfig{}, *learner);
  const auto events = clicks();
  for (const Event& e : events) ranker.add_event(e);
  expect_counts(ranker, brute_force(events, 3, 600'000));
}

TEST(CoVisitationCounts, ExactWhenARestoredRankerReplaysTheRest) {
  auto learner = trained_learner();
  RankingConfig config;
  Ranker first(config, PopularityConfig{}, *learner);
  const auto events = clicks();
  for (size_t j = 0; j < events.size() / 2; ++j) first.add_event(events[j]);
  ByteWriter out;
  first.save(out);
  Ranker restored(config, PopularityConfig{}, *learner);
  ByteReader in(out.bytes());
  ASSERT_TRUE(restored.load(in));
  for (size_t j = events.size() / 2; j < events.size(); ++j) restored.add_event(events[j]);
  expect_counts(restored, brute_force(events, 5, 3'600'000));
}

}  // namespace
}  // namespace streamrec::ranking
