// One owner of a user's recent clicks: the pipeline's real-time user state
// ranks with its bag and hands the learner, with each event, the bag as it
// was just before it, so a sample is trained with exactly the bag its
// user's rankings are scored with -- also across a restart while the
// event-time merger held some of the user's events (held events go into
// the checkpoint, and the stream resumes after the last event consumed:
// read again, those clicks would have counted twice in the real-time state,
// once in the learner's). StreamPipeline in-process against a real
// redis-server; the trained bags read back from the checkpoint.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "pipeline/stream_pipeline.h"
#include "tests/pipeline/pipeline_probe.h"
#include "tests/support/servers.h"

namespace streamrec::pipeline {
namespace {

using testing_probe::consumed;

// The bag each impression of `user_id` was trained with, by event id: the
// learner restored from the checkpoint at `path` learns what it holds and a
// click on each impression's item, and reports the samples it trains.
std::map<std::string, learner::RecentClicks> trained_bags(const std::string& path, const std::string& user_id,
                                                          const std::vector<std::string>& items) {
  Config config;
  auto learner = std::move(learner::Learner::create(config.learner)).value();
  ranking::Ranker ranker(config.rankings, config.popularity, *learner);
  RankingDebouncer users(config.rankings, config.learner.recent_clicks);
  StreamPositions positions;
  std::vector<learner::EventWithRecentClicks> held;
  auto restored = restore_pipeline_checkpoint(path, positions, users, held, ranker, *learner);
  EXPECT_TRUE(restored.ok() && !restored->empty()) << (restored.ok() ? "no checkpoint" : restored.error().message);
  EXPECT_TRUE(held.empty()) << "the stream had caught up: nothing held";
  std::map<std::string, learner::RecentClicks> bags;
  learner->set_sink([&](const learner::Sample& s, const learner::Scores&) {
    if (s.user_id == user_id) bags[s.event_id] = s.recent_clicks;
  });
  int64_t ts = 1'767'225'600'000 + 100'000;  // after every event of the test
  for (const std::string& item : items) {
    Event click;
    click.event_id = "check-" + item;
    click.type = EventType::kClick;
    click.user_id = user_id;
    click.item_id = item;
    click.ts_ms = ts++;
    learner->add_event(click, {});
  }
  learner->finish();
  return bags;
}

TEST(RecentClicks, ASampleIsTrainedWithTheBagItsUsersRankingsAreScoredWithAlsoAcrossARestart) {
  testing::RedisServer redis;
  const std::string dir = testing::make_scratch_dir("recent_clicks");
  Config config;
  config.redis.url = redis.url();
  config.checkpoint.path = dir + "/checkpoint";
  const TopicPartition p0{"events", 0}, p1{"events", 1};
  // Partition 0 as the consumer reads it, by offset: u1 clicks a and b, is
  // shown x; then clicks c, is shown y.
  const std::vector<ConsumedEvent> stream = {
      consumed(EventType::kClick, "u1", "a", 0, 0), consumed(EventType::kClick, "u1", "b", 0, 1),
      consumed(EventType::kImpression, "u1", "x", 0, 2), consumed(EventType::kClick, "u1", "c", 0, 3),
      consumed(EventType::kImpression, "u1", "y", 0, 4)};
  auto deliver = [&](StreamPipeline& pipeline, int64_t from, int64_t to) {
    ConsumedBatch batch;
    for (int64_t offset = from; offset < to; ++offset) batch.events.push_back(stream[static_cast<size_t>(offset)]);
    if (from == 0)
      for (const char* id : {"a", "b", "c", "x", "y"}) batch.items.push_back({Item{id, "cat", 1, true, 0}, {}});
    ASSERT_TRUE(pipeline.apply(batch).ok());
  };

  {
    // Partition 1 is assigned and delivers nothing: the merger holds all of
    // partition 0's events when the checkpoint is written.
    auto created = StreamPipeline::create(config);
    ASSERT_TRUE(created.ok()) << created.error().message;
    StreamPipeline& pipeline = **created;
    ASSERT_FALSE(pipeline.start_offset("test", p0).has_value());
    ASSERT_FALSE(pipeline.start_offset("test", p1).has_value());
    deliver(pipeline, 0, 3);
    ASSERT_TRUE(pipeline.save_checkpoint().ok());
  }  // stopped (as if killed after the checkpoint): nothing more is written

  auto created = StreamPipeline::create(config);
  ASSERT_TRUE(created.ok()) << created.error().message;
  StreamPipeline& pipeline = **created;
  const std::optional<int64_t> start = pipeline.start_offset("test", p0);
  ASSERT_TRUE(start.has_value());
  EXPECT_EQ(*start, 3) << "resumes after the last event consumed";
  (void)pipeline.start_offset("test", p1);
  deliver(pipeline, *start, 5);
  pipeline.partition_end(p0, 5);
  pipeline.partition_end(p1, 0);
  ASSERT_TRUE(pipeline.save_checkpoint().ok());

  // The bag the rankings are scored with: the real-time state's, which
  // sr:{u:u1}:f's `recent` is written from.
  EXPECT_EQ(redis.cli("HGET 'sr:{u:u1}:f' recent"), "[\"c\",\"b\",\"a\"]\n");
  const auto bags = trained_bags(config.checkpoint.path, "u1", {"x", "y"});
  ASSERT_TRUE(bags.contains("u1-2") && bags.contains("u1-4")) << "impressions x and y not trained";
  EXPECT_EQ(bags.at("u1-2"), (learner::RecentClicks{"b", "a"}));       // x, held across the restart
  EXPECT_EQ(bags.at("u1-4"), (learner::RecentClicks{"c", "b", "a"}));  // y: the rankings' bag
  testing::remove_scratch_dir_if_passed(dir);
}

}  // namespace
}  // namespace streamrec::pipeline
