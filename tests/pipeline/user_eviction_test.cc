// A user the pipeline evicts (learner.max_users, decided by the consumer's
// real-time state, which holds their recent clicks) is forgotten by every
// per-user structure at once: the ranker's history and the co-visit
// effects' copy go with it, though each of those alone would still have
// room; the most recent users stay. StreamPipeline in-process against a
// real redis-server (its effects and rankings are written there).
#include <gtest/gtest.h>

#include <string>

#include "pipeline/stream_pipeline.h"
#include "tests/pipeline/pipeline_probe.h"
#include "tests/support/servers.h"

namespace streamrec::pipeline {
namespace {

using testing_probe::consumed;
using testing_probe::entries;
using testing_probe::wait_for_stats;

TEST(UserEviction, AnEvictedUserIsGoneFromEveryPerUserStructureAndTheMostRecentStay) {
  testing::RedisServer redis;
  Config config;
  config.redis.url = redis.url();
  config.learner.max_users = 2;
  auto created = StreamPipeline::create(config);
  ASSERT_TRUE(created.ok()) << created.error().message;
  StreamPipeline& pipeline = **created;
  const TopicPartition partition{"events", 0};
  ASSERT_FALSE(pipeline.start_offset("test", partition).has_value());

  // Two users click, and the model's side learns it.
  ConsumedBatch first;
  first.items.push_back({Item{"a", "c", 1, true, 0}, {}});
  first.items.push_back({Item{"b", "c", 1, true, 0}, {}});
  first.events = {consumed(EventType::kClick, "u1", "a", 0, 0), consumed(EventType::kClick, "u2", "b", 0, 1)};
  ASSERT_TRUE(pipeline.apply(first).ok());
  pipeline.partition_end(partition, 2);  // caught up: the merger releases both
  std::string stats = wait_for_stats(pipeline, [](const std::string& s) {
    return entries(s, "user_histories") == 2;
  });
  ASSERT_EQ(entries(stats, "user_histories"), 2) << stats;
  ASSERT_EQ(entries(stats, "covisit_effect_users"), 2) << stats;

  // u3 and u4 come (impressions: no bag, no history of their own): the
  // real-time state evicts u1, then u2, and the pipeline forgets them
  // everywhere, though the histories had room for both.
  ConsumedBatch second;
  second.events = {consumed(EventType::kImpression, "u3", "a", 0, 2), consumed(EventType::kImpression, "u4", "b", 0, 3)};
  ASSERT_TRUE(pipeline.apply(second).ok());
  stats = pipeline.stats_json(false);
  EXPECT_EQ(entries(stats, "realtime_users"), 2) << stats;
  EXPECT_EQ(entries(stats, "user_histories"), 0) << stats;
  EXPECT_EQ(entries(stats, "covisit_effect_users"), 0) << stats;
  EXPECT_NE(stats.find("\"realtime_users\":{\"entries\":2,\"bound\":2,\"evicted\":2}"), std::string::npos) << stats;

  // The most recent user clicks: kept everywhere.
  ConsumedBatch third;
  third.events = {consumed(EventType::kClick, "u4", "a", 0, 4)};
  ASSERT_TRUE(pipeline.apply(third).ok());
  pipeline.partition_end(partition, 5);
  stats = wait_for_stats(pipeline, [](const std::string& s) {
    return entries(s, "user_histories") == 1;
  });
  EXPECT_EQ(entries(stats, "realtime_users"), 2) << stats;  // u3, u4
  EXPECT_EQ(entries(stats, "user_histories"), 1) << stats;
  EXPECT_EQ(entries(stats, "covisit_effect_users"), 1) << stats;
  EXPECT_TRUE(pipeline.flush().ok());
}

}  // namespace
}  // namespace streamrec::pipeline
