// The ranker's per-user and per-item state stays within learner.max_users
// and the catalog's bound (learner.max_items): the least recently active
// user's history goes, the most recent stays, and an item the catalog
// evicted is no candidate and has no popularity left.
#include <gtest/gtest.h>

#include <algorithm>

#include "online_learner/byte_io.h"
#include "online_learner/learner.h"
#include "ranking/ranker.h"
#include "ranking/user_history.h"
#include "tests/online_learner/test_stream.h"

namespace streamrec::ranking {
namespace {

using learner::testing::make_event;

TEST(UserHistoriesBound, BeyondMaxUsersTheLeastRecentlyActiveUserIsForgotten) {
  UserHistories histories(5, 5, /*max_users=*/2);
  histories.observe(make_event("1", EventType::kClick, "u1", "a", 1000));
  histories.observe(make_event("2", EventType::kPurchase, "u2", "b", 1001));
  histories.observe(make_event("3", EventType::kClick, "u1", "c", 1002));  // u1 active again
  histories.observe(make_event("4", EventType::kClick, "u3", "d", 1003));  // evicts u2
  EXPECT_EQ(histories.users(), 2u);
  EXPECT_EQ(histories.evicted_users(), 1u);
  EXPECT_EQ(histories.find("u2"), nullptr);
  ASSERT_NE(histories.find("u1"), nullptr);
  EXPECT_TRUE(histories.find("u1")->has_viewed("a"));
  EXPECT_TRUE(histories.find("u3")->has_viewed("d"));
  // Impressions are no activity: they neither create nor refresh a user.
  histories.observe(make_event("5", EventType::kImpression, "u9", "d", 1004));
  EXPECT_EQ(histories.find("u9"), nullptr);
}

TEST(UserHistoriesBound, EraseAndTheRecencyThroughACheckpointAndACopy) {
  UserHistories histories(5, 5, 3);
  for (const char* u : {"b", "a", "c"}) histories.observe(make_event(u, EventType::kClick, u, "x", 1000));
  EXPECT_TRUE(histories.erase("c"));
  EXPECT_FALSE(histories.erase("c"));
  EXPECT_EQ(histories.find("c"), nullptr);
  histories.observe(make_event("c2", EventType::kClick, "c", "y", 1001));
  learner::ByteWriter w;
  histories.save(w);
  const std::string bytes = w.take();
  UserHistories restored(5, 5, 3);
  learner::ByteReader r(bytes);
  ASSERT_TRUE(restored.load(r));
  UserHistories copy(restored, 1, 0);
  for (UserHistories* h : {&restored, &copy}) {
    h->observe(make_event("d", EventType::kClick, "d", "x", 1002));  // evicts b, the least recent
    EXPECT_EQ(h->find("b"), nullptr);
    EXPECT_NE(h->find("a"), nullptr);
    EXPECT_NE(h->find("c"), nullptr);
  }
}

TEST(RankerBound, AnItemTheCatalogEvictedIsNoCandidateAndLosesItsPopularity) {
  LearnerConfig config;
  config.max_items = 3;
  auto learner = std::move(learner::Learner::create(config)).value();
  RankingConfig ranking;
  ranking.top_k = 10;
  Ranker ranker(ranking, PopularityConfig{}, *learner);
  for (const char* id : {"a", "b", "c"}) learner->add_item(Item{id, "cat", 1.0, true, 0});
  ranker.catalog_changed();
  int n = 0;
  for (const char* id : {"a", "b", "c"}) {
    Event click = make_event("e" + std::to_string(n), EventType::kClick, "u" + std::to_string(n), id, 1000 + n);
    ++n;
    learner->add_event(click);
    ranker.add_event(click);
  }
  auto ranked = ranker.rank("u0", {"a"}, {}, 2000);
  EXPECT_EQ(ranker.popularity_items(), 3u);
  learner->add_item(Item{"d", "cat", 1.0, true, 0});  // evicts a, the least recently updated
  ranker.catalog_changed();
  ranked = ranker.rank("u1", {"b"}, {}, 2001);
  EXPECT_EQ(learner->catalog().find("a"), nullptr);
  EXPECT_EQ(ranker.available_items(), 3u);
  EXPECT_EQ(ranker.popularity_items(), 3u);  // a's is gone, d has one
  for (auto& [item, score] : ranked) EXPECT_NE(item, "a");
}

TEST(RankerBound, EraseUserForgetsTheirHistory) {
  auto learner = std::move(learner::Learner::create(LearnerConfig{})).value();
  Ranker ranker(RankingConfig{}, PopularityConfig{}, *learner);
  ranker.add_event(make_event("1", EventType::kClick, "u1", "a", 1000));
  ASSERT_NE(ranker.histories().find("u1"), nullptr);
  EXPECT_TRUE(ranker.erase_user("u1"));
  EXPECT_EQ(ranker.histories().find("u1"), nullptr);
  EXPECT_FALSE(ranker.erase_user("u1"));
}

TEST(RankerBound, TheRankersHistoriesAreBoundedByMaxUsers) {
  LearnerConfig config;
  config.max_users = 100;
  auto learner = std::move(learner::Learner::create(config)).value();
  Ranker ranker(RankingConfig{}, PopularityConfig{}, *learner);
  for (int u = 0; u < 1000; ++u)
    ranker.add_event(make_event("e" + std::to_string(u), EventType::kClick, "u" + std::to_string(u), "a", 1000 + u));
  EXPECT_EQ(ranker.histories().users(), 100u);
  EXPECT_EQ(ranker.histories().evicted_users(), 900u);
  EXPECT_NE(ranker.histories().find("u999"), nullptr);
  EXPECT_EQ(ranker.histories().find("u899"), nullptr);
}

}  // namespace
}  // namespace streamrec::ranking
