// A ranking answers the events that asked for it: a user's first click makes
// their first ranking, never an "unknown user" skip, wherever the click
// waits -- behind a long queue of other users' events in the model thread
// (pipeline/model_thread.h), or held by the event-time merger until the
// other partitions catch up (pipeline/stream_pipeline.h) -- and a user the
// model did not know when asked is ranked when the learner stops. ModelThread
// and StreamPipeline against a real redis-server (rankings are written there).
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
#include "online_learner/learner.h"
#include "pipeline/model_thread.h"
#include "pipeline/stream_pipeline.h"
#include "ranking/ranker.h"
#include "tests/support/servers.h"

namespace streamrec::pipeline {
namespace {

constexpr int64_t kStartMs = 1'767'225'600'000;

Event click(const std::string& user, const std::string& item, int64_t n) {
  Event e;
  e.event_id = "e" + std::to_string(n);
  e.type = EventType::kClick;
  e.user_id = user;
  e.item_id = item;
  e.ts_ms = kStartMs + n;
  return e;
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
    std::vector<Event> events;
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

TEST(ModelThread, AUserUnknownWhenAskedIsRankedWhenTheThreadStops) {
  testing::RedisServer redis;
  Config config;
  config.redis.url = redis.url();
  auto created = learner::Learner::create(config.learner);
  ASSERT_TRUE(created.ok()) << created.error().message;
  learner::Learner& learner = **created;
  ranking::Ranker ranker(config.rankings, config.popularity, learner);
  for (int i = 0; i < 20; ++i) learner.add_item(Item{"i" + std::to_string(i), "c", 1, true, 0});
  ranker.catalog_changed();
  {
    ModelThread model(config, learner, ranker);
    // Asked before anything of the user is queued: unknown, tried again later.
    model.rank(RankRequest{"late", {}, {}, kStartMs, -1});
    ASSERT_TRUE(wait_until([&] { return model.ranking_stats().rankings_skipped == 1; }));
    // Their click comes, and the learner stops at once (no retry due yet).
    std::vector<Event> events = {click("late", "i3", 1)};
    model.learn(events);
  }
  EXPECT_GT(std::stoi(redis.cli("ZCARD 'sr:{u:late}:rec'")), 0);
}

ConsumedEvent consumed_click(const std::string& user, const std::string& item, int partition, int64_t offset) {
  ConsumedEvent c;
  c.event = click(user, item, 1000 * offset);
  c.event.event_id = user + "-" + std::to_string(partition) + "-" + std::to_string(offset);
  c.origin.source = "test/events/" + std::to_string(partition);
  c.origin.topic = "events";
  c.origin.partition = partition;
  c.origin.offset = offset;
  c.origin.kafka_ts_ms = c.event.ts_ms;
  return c;
}

int64_t stat(const std::string& stats, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(stats, m, std::regex("\"" + name + "\":([0-9]+)"))) return -1;
  return std::stoll(m[1]);
}

TEST(StreamPipelineRankings, AClickTheMergerHoldsIsLearnedBeforeItsRankingNotSkipped) {
  testing::RedisServer redis;
  Config config;
  config.redis.url = redis.url();
  auto created = StreamPipeline::create(config);
  ASSERT_TRUE(created.ok()) << created.error().message;
  StreamPipeline& pipeline = **created;
  const TopicPartition p0{"events", 0}, p1{"events", 1};
  ASSERT_FALSE(pipeline.start_offset("test", p0).has_value());
  ASSERT_FALSE(pipeline.start_offset("test", p1).has_value());

  // A newcomer clicks on partition 0; partition 1 has delivered nothing
  // yet, so the merger holds the click (partition 1's first events may be
  // older). The click asks for a ranking at once.
  ConsumedBatch batch;
  for (int i = 0; i < 20; ++i) batch.items.push_back({Item{"i" + std::to_string(i), "c", 1, true, 0}, {}});
  batch.events = {consumed_click("newcomer", "i3", 0, 0)};
  ASSERT_TRUE(pipeline.apply(batch).ok());
  // Partition 1 turns out empty: the merger releases the click.
  pipeline.partition_end(p1, 0);
  ASSERT_TRUE(pipeline.tick().ok());
  std::string stats = pipeline.stats_json(false);
  for (int i = 0; i < 1200 && stat(stats, "rankings_written") < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_TRUE(pipeline.tick().ok());
    stats = pipeline.stats_json(false);
  }
  ASSERT_EQ(stat(stats, "rankings_written"), 1) << stats;
  // Ranked once, after the click was learned: not first skipped as unknown.
  EXPECT_EQ(stat(stats, "rankings_skipped"), 0) << stats;
  EXPECT_GT(std::stoi(redis.cli("ZCARD 'sr:{u:newcomer}:rec'")), 0);
  EXPECT_TRUE(pipeline.flush().ok());
}

}  // namespace
}  // namespace streamrec::pipeline
