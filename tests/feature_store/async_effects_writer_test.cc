// Effects written on the writer's own thread, against a real redis-server:
// submissions become durable in order, and a write Redis refuses keeps its
// effects until a later submission writes them, with the new ones, once;
// state riding along is written after the effects, kept when refused, and
// the newest value of a field wins.
#include <gtest/gtest.h>

#include "feature_store/async_effects_writer.h"
#include "tests/support/servers.h"

namespace streamrec {
namespace {

class AsyncEffectsWriterTest : public ::testing::Test {
 protected:
  // `n` clicks of user a at offsets [first, first + n) of events/0.
  static EffectBatch clicks(int first, int n) {
    EffectBatch batch;
    for (int o = first; o < first + n; ++o) batch.add("sr:{u:a}:f", "events/0", o, EffectOp::kIncrement, "clicks", 1);
    return batch;
  }
  std::string clicks_in_redis() { return redis_.cli("HGET 'sr:{u:a}:f' clicks"); }

  testing::RedisServer redis_;
  AsyncEffectsWriter writer_{redis_.url(), 2000, IdempotentWriter("sr:marks")};
};

TEST_F(AsyncEffectsWriterTest, SubmissionsBecomeDurableInOrder) {
  EXPECT_EQ(writer_.durable(), 0u);
  EffectBatch batch = clicks(0, 5);
  ASSERT_TRUE(writer_.submit(batch).ok());
  EXPECT_TRUE(batch.empty());
  batch = clicks(5, 3);
  ASSERT_TRUE(writer_.submit(batch).ok());  // waits for the first
  EXPECT_EQ(writer_.submitted(), 2u);
  ASSERT_TRUE(writer_.wait().ok());
  EXPECT_EQ(writer_.durable(), 2u);
  EXPECT_EQ(clicks_in_redis(), "8\n");
  EXPECT_EQ(redis_.cli("HGET sr:marks events/0"), "7\n");

  EffectBatch nothing;  // starts no write
  ASSERT_TRUE(writer_.submit(nothing).ok());
  EXPECT_EQ(writer_.submitted(), 2u);
}

TEST_F(AsyncEffectsWriterTest, ARefusedWriteIsWrittenWithTheNextSubmissionOnce) {
  ASSERT_EQ(redis_.cli("CONFIG SET maxmemory-policy noeviction"), "OK\n");
  ASSERT_EQ(redis_.cli("CONFIG SET maxmemory 1"), "OK\n");  // every write: OOM
  EffectBatch batch = clicks(0, 5);
  ASSERT_TRUE(writer_.submit(batch).ok());
  Status refused = writer_.wait();
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(writer_.durable(), 0u);
  EXPECT_EQ(writer_.write_failures(), 1);
  EXPECT_TRUE(writer_.holding());

  batch = clicks(5, 3);
  EXPECT_FALSE(writer_.submit(batch).ok());  // reports the refusal, retries with these
  EXPECT_FALSE(writer_.wait().ok());
  EXPECT_EQ(writer_.durable(), 0u);

  ASSERT_EQ(redis_.cli("CONFIG SET maxmemory 0"), "OK\n");
  EffectBatch nothing;
  EXPECT_FALSE(writer_.submit(nothing).ok());  // the second refusal; the held effects go again
  ASSERT_TRUE(writer_.wait().ok());
  EXPECT_FALSE(writer_.holding());
  EXPECT_EQ(writer_.durable(), 2u);
  EXPECT_EQ(clicks_in_redis(), "8\n");
}

TEST_F(AsyncEffectsWriterTest, MarksMovedByAnotherWriterAreReadAgainWhenTold) {
  EffectBatch batch = clicks(0, 5);
  ASSERT_TRUE(writer_.submit(batch).ok());
  ASSERT_TRUE(writer_.wait().ok());
  // Another learner took the partition and applied offsets 5..9.
  ASSERT_EQ(redis_.cli("HSET sr:marks events/0 9"), "0\n");
  ASSERT_EQ(redis_.cli("HINCRBY 'sr:{u:a}:f' clicks 5"), "10\n");
  writer_.forget_marks();
  batch = clicks(8, 4);  // 8 and 9 are in already
  ASSERT_TRUE(writer_.submit(batch).ok());
  ASSERT_TRUE(writer_.wait().ok());
  EXPECT_EQ(clicks_in_redis(), "12\n");
  // Read again, not found stale: one script call per write, no retry.
  std::string stats = redis_.cli("INFO commandstats");
  EXPECT_NE(stats.find("cmdstat_evalsha:calls=2,"), std::string::npos) << stats;
}

TEST_F(AsyncEffectsWriterTest, StateRidesAlongWithTheEffects) {
  EffectBatch batch = clicks(0, 2);
  StateWrites state;
  const std::string bytes("\x00\x01\xff\x7f", 4);  // binary, as embeddings are
  state.hset("sr:{u:a}", {{"emb", bytes}});
  state.hset("sr:model", {{"version", "1"}, {"auc_click", "0.61"}});
  ASSERT_TRUE(writer_.submit(batch, state).ok());
  EXPECT_TRUE(state.empty());
  ASSERT_TRUE(writer_.wait().ok());
  EXPECT_EQ(writer_.durable(), 1u);
  EXPECT_EQ(clicks_in_redis(), "2\n");
  EXPECT_EQ(redis_.cli("HGET sr:model auc_click"), "0.61\n");
  EXPECT_EQ(redis_.cli("--no-raw HGET 'sr:{u:a}' emb"), "\"\\x00\\x01\\xff\\x7f\"\n");

  EffectBatch nothing;  // state alone is written too, and counts no submission
  state.hset("sr:model", {{"version", "2"}});
  ASSERT_TRUE(writer_.submit(nothing, state).ok());
  ASSERT_TRUE(writer_.wait().ok());
  EXPECT_EQ(writer_.submitted(), 1u);
  EXPECT_EQ(redis_.cli("HGET sr:model version"), "2\n");
}

TEST_F(AsyncEffectsWriterTest, RefusedStateIsKeptAndTheNewestValueWins) {
  ASSERT_EQ(redis_.cli("CONFIG SET maxmemory-policy noeviction"), "OK\n");
  ASSERT_EQ(redis_.cli("CONFIG SET maxmemory 1"), "OK\n");  // every write: OOM
  EffectBatch nothing;
  StateWrites state;
  state.hset("sr:model", {{"version", "1"}, {"events_trained", "100"}});
  ASSERT_TRUE(writer_.submit(nothing, state).ok());
  EXPECT_FALSE(writer_.wait().ok());
  EXPECT_TRUE(writer_.holding());
  EXPECT_EQ(writer_.write_failures(), 1);

  ASSERT_EQ(redis_.cli("CONFIG SET maxmemory 0"), "OK\n");
  state.hset("sr:model", {{"version", "2"}});  // newer than the held write
  EXPECT_FALSE(writer_.submit(nothing, state).ok());  // reports the refusal, retries
  ASSERT_TRUE(writer_.wait().ok());
  EXPECT_FALSE(writer_.holding());
  EXPECT_EQ(redis_.cli("HGET sr:model version"), "2\n");
  EXPECT_EQ(redis_.cli("HGET sr:model events_trained"), "100\n");  // the held write is not lost
}

}  // namespace
}  // namespace streamrec
