// A ranking answers the events queued before it (pipeline/model_thread.h):
// a user's first click behind a long queue of other users' events makes
// their first ranking, never an "unknown user" skip; and a user the model
// did not know when asked is ranked when the thread stops. ModelThread
// against a real redis-server (rankings are written there).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
#include "online_learner/learner.h"
#include "pipeline/model_thread.h"
#include "ranking/ranker.h"
#include "tests/support/servers.h"

namespace streamrec::pipeline {
namespace {

constexpr int64_t kStartMs = 1'767'225'600'000;

// A click, with no recent clicks before it (the learner's features do not
// matter here).
learner::EventWithRecentClicks click(const std::string& user, const std::string& item, int64_t n) {
  Event e;
  e.event_id = "e" + std::to_string(n);
  e.type = EventType::kClick;
  e.user_id = user;
  e.item_id = item;
  e.ts_ms = kStartMs + n;
  return {e, {}};
}

// Waits (generously: no timing assertion) until `done()` holds.
template <class F>
bool wait_until(F done) {
  for (int i = 0; i < 1200; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

// A redis-server, a learner with 20 available items of one category, and
// its ranker: what a ModelThread needs.
struct TwentyItems {
  TwentyItems() {
    config.redis.url = redis.url();
    auto created = learner::Learner::create(config.learner);
    EXPECT_TRUE(created.ok()) << created.error().message;
    learner = std::move(created).value();
    ranker = std::make_unique<ranking::Ranker>(config.rankings, config.popularity, *learner);
    for (int i = 0; i < 20; ++i) learner->add_item(Item{"i" + std::to_string(i), "c", 1, true, 0});
    ranker->catalog_changed();
  }
  testing::RedisServer redis;
  Config config;
  std::unique_ptr<learner::Learner> learner;
  std::unique_ptr<ranking::Ranker> ranker;
};

TEST(ModelThread, AFirstClickBehindALongQueueGetsARankingNotAnUnknownUserSkip) {
  testing::RedisServer redis;
  Config config;
  config.redis.url = redis.url();
  auto created = learner::Learner::create(config.learner);
  ASSERT_TRUE(created.ok()) << created.error().message;
  learner::Learner& learner = **created;
  ranking::Ranker ranker(config.rankings, config.popularity, learner);
  for (int i = 0; i < 200; ++i) learner.add_item(Item{"i" + std::to_string(i), "c" + std::to_string(i % 10), 1, true, 0});
  // Clicked by the newcomer alone, and unavailable (never drawn as another
  // click's negative): no embedding row, so only their learned click (their
  // history) tells the ranker anything about them.
  learner.add_item(Item{"fresh", "c0", 1, /*available=*/false, 0});
  ranker.catalog_changed();

  {
    ModelThread model(config, learner, ranker);
    // Thousands of other users' clicks, then the newcomer's first click,
    // then the request for the newcomer's ranking. Queued while holding the
    // model, so the thread has learned at most its first round when it
    // sees the request: the click is thousands of events behind it.
    constexpr int kQueued = 20000;
    std::vector<learner::EventWithRecentClicks> events;
    for (int n = 0; n < kQueued; ++n)
      events.push_back(click("u" + std::to_string(n % 5000), "i" + std::to_string((n * 7) % 200), n));
    events.push_back(click("newcomer", "fresh", kQueued));
    RankRequest request{"newcomer", {"fresh"}, {}, kStartMs + kQueued, kStartMs + kQueued};
    {
      auto held = model.lock();
      model.learn(events);
      model.rank(request);
    }
    ASSERT_TRUE(wait_until([&] { return model.ranking_stats().rankings_written >= 1; }))
        << "no ranking written in 120 s";
    RankingStats stats = model.ranking_stats();
    // Ranked once, with the click learned: no skip, and measured for freshness
    // (a skipped user's later ranking is not).
    EXPECT_EQ(stats.rankings_skipped, 0);
    EXPECT_EQ(stats.rankings_written, 1);
    EXPECT_EQ(stats.freshness_ms.count(), 1u);
  }
  EXPECT_GT(std::stoi(redis.cli("ZCARD 'sr:{u:newcomer}:rec'")), 0);
}

// behind() holds once the thread has worked for a second without waiting
// for work (what the pipeline sheds refreshes on), and ends once it has
// caught up and waits again.
TEST(ModelThread, ItIsBehindOnceBusyForASecondAndNotOnceItCatchesUp) {
  TwentyItems m;
  ModelThread model(m.config, *m.learner, *m.ranker);
  EXPECT_FALSE(model.behind());
  {
    // Held: the thread takes at most one round of these events and waits
    // for the model, working all along.
    auto held = model.lock();
    std::vector<learner::EventWithRecentClicks> events;
    for (int n = 0; n < 2000; ++n) events.push_back(click("u" + std::to_string(n % 50), "i" + std::to_string(n % 20), n));
    model.learn(events);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_FALSE(model.behind());
    // (Half a second more than the second: a slow machine may wake the thread late.)
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    EXPECT_TRUE(model.behind());
  }
  model.wait_until_learned();
  ASSERT_TRUE(wait_until([&] { return !model.behind(); }));
}

// A thread behind its events gives rankings a share of its time, not all of
// it: on a stream whose rankings cost more than its learning, it learns its
// backlog first and ranks as it goes, the rankings it has no time for
// waiting, instead of ranking every request as soon as its events are
// learned (which, on a stream with many clicks, kept it from ever catching
// up). Every ranking is still written in the end.
TEST(ModelThread, BehindItLearnsItsBacklogBeforeTheRankingsItHasNoTimeFor) {
  testing::RedisServer redis;
  Config config;
  config.redis.url = redis.url();
  config.learner.negatives_per_click = "4";  // clicks alone make samples
  auto created = learner::Learner::create(config.learner);
  ASSERT_TRUE(created.ok()) << created.error().message;
  learner::Learner& learner = **created;
  ranking::Ranker ranker(config.rankings, config.popularity, learner);
  constexpr int kItems = 2000;
  for (int i = 0; i < kItems; ++i) learner.add_item(Item{"i" + std::to_string(i), "c" + std::to_string(i % 20), 1, true, 0});
  ranker.catalog_changed();
  ModelThread model(config, learner, ranker);
  constexpr int kUsers = 3000;
  auto item = [](int n) { return "i" + std::to_string((n * 7) % kItems); };
  // A click a second: samples leave the joiner an hour (the click window)
  // after their click.
  auto click_at = [&](int user, int n) {
    learner::EventWithRecentClicks e = click("u" + std::to_string(user), item(n), n);
    e.event.ts_ms = kStartMs + int64_t{1000} * n;
    return e;
  };
  std::vector<learner::EventWithRecentClicks> events;
  for (int u = 0; u < kUsers; ++u) events.push_back(click_at(u, u));
  model.learn(events);
  model.wait_until_learned();
  {
    // A backlog: a click, then a ranking asked for, over and over; the
    // thread held for over a second, so that it is behind when released.
    auto held = model.lock();
    for (int u = 0, n = kUsers; u < kUsers; ++u, ++n) {
      events.push_back(click_at(u, n));
      model.learn(events);
      model.rank(RankRequest{"u" + std::to_string(u), {item(u)}, {}, kStartMs + int64_t{1000} * n, kStartMs + n});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1800));
    EXPECT_TRUE(model.behind());
  }
  // Samples learned and rankings written, every millisecond until both are done.
  std::vector<std::pair<uint64_t, int64_t>> progress;
  const auto released = std::chrono::steady_clock::now();
  while (model.ranking_stats().rankings_written < kUsers &&
         std::chrono::steady_clock::now() - released < std::chrono::seconds(120)) {
    progress.emplace_back(model.samples_learned(), model.ranking_stats().rankings_written);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  model.wait_until_learned();
  ASSERT_EQ(model.ranking_stats().rankings_written, kUsers);
  const uint64_t learned = model.samples_learned();
  auto done = std::find_if(progress.begin(), progress.end(), [&](const auto& p) { return p.first == learned; });
  ASSERT_NE(done, progress.end()) << "the backlog was learned only after the last ranking was written";
  std::printf("backlog learned after %zu ms, with %lld of %d rankings written; all written after %zu ms\n",
              static_cast<size_t>(done - progress.begin()), static_cast<long long>(done->second), kUsers, progress.size());
  // Ranking each request once its events are learned, the thread would
  // have written all but the last round's when the backlog was learned.
  EXPECT_LT(done->second, kUsers * 3 / 4);
}

// at_this_point() is a barrier in the queue (what a checkpoint taken while
// the consumer goes on relies on): its task sees the model after exactly the
// events queued before it, however many are queued after it, and
// wait_until_learned() returns only once it has run.
TEST(ModelThread, ATaskSeesTheEventsQueuedBeforeItAndNoneAfter) {
  TwentyItems m;
  ModelThread model(m.config, *m.learner, *m.ranker);
  auto clicks = [](int first, int n) {
    std::vector<learner::EventWithRecentClicks> events;
    for (int k = first; k < first + n; ++k) events.push_back(click("u" + std::to_string(k % 50), "i" + std::to_string(k % 20), k));
    return events;
  };
  std::vector<uint64_t> seen;  // events the learner had when each task ran
  {
    // Held: everything below is queued before the thread learns past its
    // first round, so the tasks' points lie deep in a full queue.
    auto held = model.lock();
    for (int part = 0; part < 3; ++part) {
      std::vector<learner::EventWithRecentClicks> events = clicks(part * 1500, 1500);
      model.learn(events);
      model.at_this_point([&] { seen.push_back(m.learner->joiner_counters().events); });
    }
    std::vector<learner::EventWithRecentClicks> after = clicks(4500, 1500);
    model.learn(after);
  }
  model.wait_until_learned();
  EXPECT_EQ(seen, (std::vector<uint64_t>{1500, 3000, 4500}));
  auto held = model.lock();
  EXPECT_EQ(m.learner->joiner_counters().events, 6000u);
}

TEST(ModelThread, AUserUnknownWhenAskedIsRankedWhenTheThreadStops) {
  TwentyItems m;
  {
    ModelThread model(m.config, *m.learner, *m.ranker);
    // Asked before anything of the user is queued: unknown, tried again later.
    model.rank(RankRequest{"late", {}, {}, kStartMs, -1});
    ASSERT_TRUE(wait_until([&] { return model.ranking_stats().rankings_skipped == 1; }));
    // Their click comes, and the learner stops at once (no retry due yet).
    std::vector<learner::EventWithRecentClicks> events = {click("late", "i3", 1)};
    model.learn(events);
  }
  EXPECT_GT(std::stoi(m.redis.cli("ZCARD 'sr:{u:late}:rec'")), 0);
}

}  // namespace
}  // namespace streamrec::pipeline
