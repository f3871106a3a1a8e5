// A rebalance that takes an events partition away hands its users to the
// partition's new owner: this learner drops everything it kept of the users
// whose events came from it (real-time state with its recent clicks, pending
// impressions, the ranker's and co-visit histories, the user's embedding
// row), so that a tombstone, which only the new owner reads, leaves no copy
// behind. The users of the partitions it keeps stay; Redis, which the new
// owner writes now, is not touched; a learner that is closing keeps all
// (its last checkpoint carries them). StreamPipeline in-process against a
// real redis-server.
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

TEST(RevokedPartition, ARebalanceDropsTheUsersOfTheRevokedPartitionEverywhereAndKeepsTheOthersAndRedis) {
  testing::RedisServer redis;
  Config config;
  config.redis.url = redis.url();
  config.learner.batch_size = 1;  // every sample learned at once: the users' embedding rows exist
  auto created = StreamPipeline::create(config);
  ASSERT_TRUE(created.ok()) << created.error().message;
  StreamPipeline& pipeline = **created;
  const TopicPartition p0{"events", 0}, p1{"events", 1};
  ASSERT_FALSE(pipeline.start_offset("test", p0).has_value());
  ASSERT_FALSE(pipeline.start_offset("test", p1).has_value());

  // u1's events come from partition 0, u2's from partition 1: each is shown
  // an item, clicks it, and is shown another (left pending in the joiner).
  ConsumedBatch batch;
  batch.items.push_back({Item{"a", "c", 1, true, 0}, {}});
  batch.items.push_back({Item{"b", "c", 1, true, 0}, {}});
  batch.events = {consumed(EventType::kImpression, "u1", "a", 0, 0), consumed(EventType::kClick, "u1", "a", 0, 1),
                  consumed(EventType::kImpression, "u1", "b", 0, 2), consumed(EventType::kImpression, "u2", "b", 1, 0),
                  consumed(EventType::kClick, "u2", "b", 1, 1), consumed(EventType::kImpression, "u2", "a", 1, 2)};
  ASSERT_TRUE(pipeline.apply(batch).ok());
  pipeline.partition_end(p0, 3);
  pipeline.partition_end(p1, 3);
  std::string stats = wait_for_stats(pipeline, [](const std::string& s) {
    return entries(s, "user_histories") == 2 && entries(s, "embedding_rows") > 0;
  });
  ASSERT_EQ(entries(stats, "realtime_users"), 2) << stats;
  ASSERT_EQ(entries(stats, "covisit_effect_users"), 2) << stats;
  const int64_t rows_before = entries(stats, "embedding_rows");
  ASSERT_TRUE(pipeline.flush().ok());
  ASSERT_EQ(redis.cli("HGET 'sr:{u:u1}:f' clicks"), "1\n");

  // A rebalance takes partition 0 away.
  pipeline.partitions_revoked({p0}, /*closing=*/false);
  stats = pipeline.stats_json(false);
  EXPECT_EQ(entries(stats, "realtime_users"), 1) << stats;
  EXPECT_EQ(entries(stats, "user_histories"), 1) << stats;
  EXPECT_EQ(entries(stats, "covisit_effect_users"), 1) << stats;
  EXPECT_EQ(entries(stats, "embedding_rows"), rows_before - 1) << stats;  // u1's row
  // Redis is the new owner's to write: u1's keys stay.
  EXPECT_EQ(redis.cli("HGET 'sr:{u:u1}:f' clicks"), "1\n");

  // Closing keeps what it has: u2 stays for the checkpoint written at the stop.
  pipeline.partitions_revoked({p1}, /*closing=*/true);
  stats = pipeline.stats_json(false);
  EXPECT_EQ(entries(stats, "realtime_users"), 1) << stats;
  EXPECT_EQ(entries(stats, "embedding_rows"), rows_before - 1) << stats;
}

}  // namespace
}  // namespace streamrec::pipeline
