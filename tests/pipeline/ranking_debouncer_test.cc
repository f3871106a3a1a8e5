// The ranking debouncer asks for a user's ranking on a click at once, on an
// impression only when the ranking is old, and at most once per refresh
// interval, remembering the oldest event that asked.
#include "pipeline/ranking_debouncer.h"

#include <gtest/gtest.h>

namespace streamrec::pipeline {
namespace {

using Clock = RankingDebouncer::Clock;
using std::chrono::milliseconds;

Event event(EventType type, const std::string& user, const std::string& item) {
  Event e;
  e.type = type;
  e.user_id = user;
  e.item_id = item;
  e.ts_ms = 1000;
  return e;
}

RankingConfig rankings() {
  RankingConfig c;
  c.refresh_interval_ms = 25;
  c.impression_refresh_ms = 30000;
  return c;
}

TEST(RankingDebouncerTest, AClickAsksAtOnceAndRepeatsWithinTheIntervalWait) {
  RankingDebouncer users(rankings(), 5);
  const Clock::time_point t0 = Clock::now();
  EXPECT_NE(users.observe(event(EventType::kClick, "u", "a"), 0, 100, t0), nullptr);  // recent changed
  std::vector<RankRequest> due;
  users.take_due(t0, due);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].user_id, "u");
  EXPECT_EQ(due[0].recent_clicks, std::vector<std::string>{"a"});
  EXPECT_EQ(due[0].asked_at_kafka_ms, 100);

  // Two clicks within the interval: one ranking after it, asked at the first.
  users.observe(event(EventType::kClick, "u", "b"), 0, 200, t0 + milliseconds(1));
  users.observe(event(EventType::kClick, "u", "c"), 0, 300, t0 + milliseconds(2));
  due.clear();
  users.take_due(t0 + milliseconds(10), due);
  EXPECT_TRUE(due.empty());
  users.take_due(t0 + milliseconds(25), due);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].recent_clicks, (std::vector<std::string>{"c", "b", "a"}));
  EXPECT_EQ(due[0].asked_at_kafka_ms, 200);
}

TEST(RankingDebouncerTest, AnImpressionAsksOnlyWhenTheRankingIsOld) {
  RankingDebouncer users(rankings(), 5);
  const Clock::time_point t0 = Clock::now();
  users.observe(event(EventType::kClick, "u", "a"), 0, 100, t0);
  std::vector<RankRequest> due;
  users.take_due(t0, due);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(users.observe(event(EventType::kImpression, "u", "b"), 0, 200, t0 + milliseconds(1000)), nullptr);
  due.clear();
  users.take_due(t0 + milliseconds(2000), due);
  EXPECT_TRUE(due.empty());
  users.observe(event(EventType::kImpression, "u", "b"), 0, 300, t0 + milliseconds(30000));
  users.take_due(t0 + milliseconds(30000), due);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].asked_at_kafka_ms, 300);
}

// While the model's thread is behind, impressions ask for nothing, not even
// a missing or old ranking, and each that would have is counted; clicks
// still ask; once it has caught up, impressions ask again.
TEST(RankingDebouncerTest, WhileRefreshesAreShedOnlyClicksAsk) {
  RankingDebouncer users(rankings(), 5);
  const Clock::time_point t0 = Clock::now();
  std::vector<RankRequest> due;
  users.shed_refreshes(true);
  users.observe(event(EventType::kImpression, "new", "a"), 0, 100, t0);  // no ranking yet
  users.observe(event(EventType::kPurchase, "new", "a"), 0, 110, t0);
  users.take_due(t0, due);
  EXPECT_TRUE(due.empty());
  EXPECT_EQ(users.refreshes_shed(), 2u);
  users.observe(event(EventType::kClick, "u", "a"), 0, 120, t0);
  users.take_due(t0, due);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].user_id, "u");
  EXPECT_EQ(users.refreshes_shed(), 2u);

  users.shed_refreshes(false);
  due.clear();
  users.observe(event(EventType::kImpression, "new", "b"), 0, 130, t0 + milliseconds(50));
  users.take_due(t0 + milliseconds(50), due);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].user_id, "new");
  EXPECT_EQ(due[0].asked_at_kafka_ms, 130);
  EXPECT_EQ(users.refreshes_shed(), 2u);
}

// With room for only some rankings (the model's thread is behind), the
// users asked for longest go first and the rest keep their place; a user's
// further clicks while waiting merge into their one ranking, computed from
// their newest clicks and measured from the first click that asked.
TEST(RankingDebouncerTest, WithoutRoomTheLongestAskedGoFirstAndTheOthersMergeTheirClicks) {
  RankingDebouncer users(rankings(), 5);
  const Clock::time_point t0 = Clock::now();
  for (int u = 0; u < 5; ++u) users.observe(event(EventType::kClick, "u" + std::to_string(u), "a"), 0, 100 + u, t0);
  std::vector<RankRequest> due;
  users.take_due(t0, due, 2);
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].user_id, "u0");
  EXPECT_EQ(due[1].user_id, "u1");
  EXPECT_EQ(users.asked(), 3u);

  users.observe(event(EventType::kClick, "u3", "b"), 0, 200, t0 + milliseconds(1));  // waiting: merges
  due.clear();
  users.take_due(t0 + milliseconds(2), due, 0);
  EXPECT_TRUE(due.empty());
  users.take_due(t0 + milliseconds(2), due);
  ASSERT_EQ(due.size(), 3u);
  EXPECT_EQ(due[0].user_id, "u2");
  EXPECT_EQ(due[1].user_id, "u3");
  EXPECT_EQ(due[1].recent_clicks, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(due[1].asked_at_kafka_ms, 103);
  EXPECT_EQ(due[2].user_id, "u4");
  EXPECT_EQ(users.asked(), 0u);
}

}  // namespace
}  // namespace streamrec::pipeline
