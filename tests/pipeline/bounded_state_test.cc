// The consumer thread's per-user and per-partition state stays within its
// bounds: the ranking debouncer keeps learner.max_users users (the least
// recently active evicted and handed out, so the pipeline forgets them
// everywhere), and the event-time merger holds at most
// learner.max_held_events events.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "pipeline/event_time_merger.h"
#include "pipeline/ranking_debouncer.h"

namespace streamrec::pipeline {
namespace {

using Clock = RankingDebouncer::Clock;

Event event(EventType type, const std::string& user, const std::string& item, int64_t ts = 1000) {
  Event e;
  e.event_id = user + item + std::to_string(ts);
  e.type = type;
  e.user_id = user;
  e.item_id = item;
  e.ts_ms = ts;
  return e;
}

TEST(RankingDebouncerBound, BeyondMaxUsersTheLeastRecentlyActiveUserIsEvictedAndHandedOut) {
  RankingDebouncer users(RankingConfig{}, 5, /*max_users=*/2);
  const Clock::time_point t0 = Clock::now();
  users.observe(event(EventType::kClick, "u1", "a"), 0, 1, t0);
  users.observe(event(EventType::kClick, "u2", "b"), 0, 2, t0);
  users.observe(event(EventType::kImpression, "u1", "c"), 0, 3, t0);  // u1 active again
  users.observe(event(EventType::kClick, "u3", "d"), 0, 4, t0);       // evicts u2
  EXPECT_EQ(users.users(), 2u);
  EXPECT_EQ(users.evicted_users(), 1u);
  std::vector<std::string> evicted;
  users.take_evicted(evicted);
  EXPECT_EQ(evicted, std::vector<std::string>{"u2"});
  users.take_evicted(evicted);
  EXPECT_EQ(evicted.size(), 1u);  // handed out once

  // u2 asked for a ranking before it went: no request for it now; the others'.
  std::vector<RankRequest> due;
  users.take_due(t0 + std::chrono::seconds(1), due);
  std::vector<std::string> ids;
  for (const RankRequest& r : due) ids.push_back(r.user_id);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"u1", "u3"}));

  // Back after eviction: a new user, without the old recent clicks.
  const ranking::RealtimeUser* back = users.observe(event(EventType::kClick, "u2", "z"), 0, 5, t0);
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(std::vector<std::string>(back->recent.begin(), back->recent.end()), std::vector<std::string>{"z"});
}

TEST(RankingDebouncerBound, EraseForgetsTheUserAndAnyRankingItAskedFor) {
  RankingDebouncer users(RankingConfig{}, 5);
  const Clock::time_point t0 = Clock::now();
  users.observe(event(EventType::kClick, "u1", "a"), 0, 1, t0);
  EXPECT_TRUE(users.erase("u1"));
  EXPECT_FALSE(users.erase("u1"));
  std::vector<RankRequest> due;
  users.take_due(t0 + std::chrono::seconds(1), due);
  EXPECT_TRUE(due.empty());
  EXPECT_EQ(users.users(), 0u);
}

TEST(RankingDebouncerBound, RestoringInTheSavedOrderKeepsTheRecency) {
  RankingDebouncer users(RankingConfig{}, 5, 3);
  const Clock::time_point t0 = Clock::now();
  for (const char* u : {"b", "a", "c"}) users.observe(event(EventType::kClick, u, "x"), 0, 1, t0);
  std::vector<std::string> order;
  users.for_each_user([&](const std::string& id, const ranking::RealtimeUser&) { order.push_back(id); });
  EXPECT_EQ(order, (std::vector<std::string>{"b", "a", "c"}));
  RankingDebouncer restored(RankingConfig{}, 5, 3);
  for (const std::string& id : order) restored.restore(id);
  restored.observe(event(EventType::kClick, "d", "x"), 0, 1, t0);
  std::vector<std::string> evicted;
  restored.take_evicted(evicted);
  EXPECT_EQ(evicted, std::vector<std::string>{"b"});
}

TEST(EventTimeMergerBound, BeyondMaxHeldTheOldestEventsGoOnWithoutWaiting) {
  EventTimeMerger merger(/*max_held=*/100);
  const TopicPartition lagging{"events", 0}, busy{"events", 1};
  merger.expect(lagging);  // never delivers: would hold everything forever
  std::vector<learner::EventWithRecentClicks> out;
  for (int64_t i = 0; i < 1000; ++i) {
    merger.push(busy, i, event(EventType::kImpression, "u", "i", 1000 + i), {});
    merger.pop_ready(out);
    EXPECT_LE(merger.held(), 100u);
  }
  EXPECT_EQ(out.size(), 900u);
  EXPECT_EQ(merger.released_over_bound(), 900u);
  for (size_t i = 1; i < out.size(); ++i) EXPECT_LT(out[i - 1].event.ts_ms, out[i].event.ts_ms);  // oldest first
  EXPECT_EQ(out.front().event.ts_ms, 1000);
  const auto held = merger.held_in_order();  // what a checkpoint keeps
  ASSERT_EQ(held.size(), 100u);
  EXPECT_EQ(held.front()->event.ts_ms, 1900);
}

TEST(EventTimeMergerBound, WithinTheBoundNothingIsReleasedEarly) {
  EventTimeMerger merger(100);
  merger.expect({"events", 0});
  std::vector<learner::EventWithRecentClicks> out;
  for (int64_t i = 0; i < 100; ++i) merger.push({"events", 1}, i, event(EventType::kImpression, "u", "i", i), {});
  merger.pop_ready(out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(merger.released_over_bound(), 0u);
}

}  // namespace
}  // namespace streamrec::pipeline
