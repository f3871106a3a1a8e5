// Exactly-once effects against a real redis-server.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>

#include "feature_store/feature_effects.h"
#include "feature_store/idempotent_writer.h"
#include "feature_store/redis_connection.h"
#include "tests/support/servers.h"

namespace streamrec {
namespace {

class IdempotentWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto conn = RedisConnection::connect(redis_.url(), 2000);
    ASSERT_TRUE(conn.ok()) << conn.error().message;
    conn_.emplace(std::move(conn).value());
  }
  std::string hget(const std::string& key, const std::string& field) {
    return redis_.cli("HGET '" + key + "' " + field);
  }

  testing::RedisServer redis_;
  std::optional<RedisConnection> conn_;
  IdempotentWriter writer_{"sr:marks", 2};  // tiny calls, so batches span several scripts
};

TEST_F(IdempotentWriterTest, ApplyingTheSameBatchTwiceCountsOnce) {
  EffectBatch batch;
  for (int offset = 0; offset < 10; ++offset)
    batch.add("sr:{u:a}:f", "events/0", offset, EffectOp::kIncrement, "clicks", 1);
  batch.add("sr:{i:x}:f", "events/0", 3, EffectOp::kIncrement, "clicks", 1);
  batch.add("sr:{i:y}:f", "events/0", 4, EffectOp::kIncrement, "clicks", 1);
  { Status s = writer_.write(*conn_, batch); ASSERT_TRUE(s.ok()) << s.message(); }
  { Status s = writer_.write(*conn_, batch); ASSERT_TRUE(s.ok()) << s.message(); }
  EXPECT_EQ(hget("sr:{u:a}:f", "clicks"), "10\n");
  EXPECT_EQ(hget("sr:{i:x}:f", "clicks"), "1\n");
  EXPECT_EQ(hget("sr:marks", "events/0"), "9\n");
}

TEST_F(IdempotentWriterTest, AReplayedSuffixWithOtherBatchBoundariesCountsEachOffsetOnce) {
  // First run: offsets 0..5 applied, then a "crash". The replay re-reads 3..9
  // in different batches; only 6..9 may be added.
  EffectBatch first, replay_a, replay_b;
  for (int o = 0; o <= 5; ++o) first.add("k{1}", "events/2", o, EffectOp::kIncrement, "n", 1);
  for (int o = 3; o <= 7; ++o) replay_a.add("k{1}", "events/2", o, EffectOp::kIncrement, "n", 1);
  for (int o = 8; o <= 9; ++o) replay_b.add("k{1}", "events/2", o, EffectOp::kIncrement, "n", 1);
  ASSERT_TRUE(writer_.write(*conn_, first).ok());
  ASSERT_TRUE(writer_.write(*conn_, replay_a).ok());
  ASSERT_TRUE(writer_.write(*conn_, replay_b).ok());
  EXPECT_EQ(hget("k{1}", "n"), "10\n");
}

TEST_F(IdempotentWriterTest, SourcesAreMarkedIndependently) {
  EffectBatch batch;
  batch.add("k{1}", "events/0", 100, EffectOp::kIncrement, "n", 1);
  batch.add("k{1}", "events/1", 5, EffectOp::kIncrement, "n", 1);  // lower offset, other partition
  { Status s = writer_.write(*conn_, batch); ASSERT_TRUE(s.ok()) << s.message(); }
  EXPECT_EQ(hget("k{1}", "n"), "2\n");
}

TEST_F(IdempotentWriterTest, ADeleteDropsTheEffectsBeforeItKeepsThoseAfterItAndIsAppliedOnce) {
  // A forgotten user: clicks at offsets 0-2, the tombstone at 3, one click at 4.
  EffectBatch batch;
  for (int o = 0; o <= 2; ++o) batch.add("sr:{u:a}:f", "events/0", o, EffectOp::kIncrement, "clicks", 1);
  batch.set("sr:{u:a}:f", "events/0", 2, "recent", "[\"i1\"]");
  batch.erase_key("sr:{u:a}:f", "events/0", 3);
  batch.erase_key("sr:{u:a}:rec", "events/0", 3);
  batch.add("sr:{u:a}:f", "events/0", 4, EffectOp::kIncrement, "clicks", 1);
  redis_.cli("HSET sr:{u:a}:f clicks 7 emb x");  // written before: deleted too
  redis_.cli("ZADD sr:{u:a}:rec 1 i1");
  { Status s = writer_.write(*conn_, batch); ASSERT_TRUE(s.ok()) << s.message(); }
  EXPECT_EQ(redis_.cli("HGETALL sr:{u:a}:f"), "clicks\n1\n");
  EXPECT_EQ(redis_.cli("EXISTS sr:{u:a}:rec"), "0\n");
  // Replayed after a crash (a fresh writer reads the marks), with a click
  // at 5 after it: the delete is not applied again.
  IdempotentWriter replay("sr:marks", 2);
  batch.add("sr:{u:a}:f", "events/0", 5, EffectOp::kIncrement, "clicks", 1);
  { Status s = replay.write(*conn_, batch); ASSERT_TRUE(s.ok()) << s.message(); }
  EXPECT_EQ(redis_.cli("HGETALL sr:{u:a}:f"), "clicks\n2\n");
}

TEST_F(IdempotentWriterTest, MaxKeepsTheLargestValue) {
  EffectBatch batch;
  batch.add("k{1}", "s", 1, EffectOp::kMax, "ts", 1767225600500);
  batch.add("k{1}", "s", 2, EffectOp::kMax, "ts", 1767225600100);
  { Status s = writer_.write(*conn_, batch); ASSERT_TRUE(s.ok()) << s.message(); }
  EXPECT_EQ(hget("k{1}", "ts"), "1767225600500\n");
}

TEST_F(IdempotentWriterTest, LogAddSumsInLogSpace) {
  EffectBatch batch;
  batch.add("pop", "s", 1, EffectOp::kLogAdd, "item", 10.0);
  batch.add("pop", "s", 2, EffectOp::kLogAdd, "item", 10.0);  // 2^10 + 2^10 = 2^11
  batch.add("pop", "s", 3, EffectOp::kLogAdd, "other", 3.0);
  { Status s = writer_.write(*conn_, batch); ASSERT_TRUE(s.ok()) << s.message(); }
  EXPECT_NEAR(std::stod(redis_.cli("ZSCORE pop item")), 11.0, 1e-9);
  EXPECT_NEAR(std::stod(redis_.cli("ZSCORE pop other")), 3.0, 1e-9);
  EXPECT_EQ(hget("sr:marks", "s"), "3\n");
}

TEST_F(IdempotentWriterTest, ZIncrementAddsToAMembersScoreOncePerOffset) {
  EffectBatch first, replay;
  first.add("cv{1}", "s", 1, EffectOp::kZIncrement, "a", 1);
  first.add("cv{1}", "s", 2, EffectOp::kZIncrement, "a", 1);
  first.add("cv{1}", "s", 2, EffectOp::kZIncrement, "b", 1);
  for (int o = 2; o <= 4; ++o) replay.add("cv{1}", "s", o, EffectOp::kZIncrement, "a", 1);  // 2 is in already
  { Status s = writer_.write(*conn_, first); ASSERT_TRUE(s.ok()) << s.message(); }
  { Status s = writer_.write(*conn_, replay); ASSERT_TRUE(s.ok()) << s.message(); }
  EXPECT_EQ(redis_.cli("ZSCORE cv{1} a"), "4\n");
  EXPECT_EQ(redis_.cli("ZSCORE cv{1} b"), "1\n");
  EXPECT_EQ(hget("sr:marks", "s"), "4\n");
}

TEST_F(IdempotentWriterTest, RecoversWhenRedisForgetsTheScript) {
  EffectBatch batch;
  batch.add("k{1}", "s", 1, EffectOp::kIncrement, "n", 1);
  { Status s = writer_.write(*conn_, batch); ASSERT_TRUE(s.ok()) << s.message(); }
  ASSERT_EQ(redis_.cli("SCRIPT FLUSH"), "OK\n");
  batch.add("k{1}", "s", 2, EffectOp::kIncrement, "n", 1);
  { Status s = writer_.write(*conn_, batch); ASSERT_TRUE(s.ok()) << s.message(); }
  EXPECT_EQ(hget("k{1}", "n"), "2\n");
}

TEST_F(IdempotentWriterTest, FeatureEffectsWriteTheDocumentedKeys) {
  PopularityConfig popularity;
  FeatureEffects counters(RedisKeys("sr:"), popularity);
  Event click{"e1", EventType::kClick, "alice", "book", 1767225600000, "", {}, std::nullopt};
  Event buy{"e2", EventType::kPurchase, "alice", "book", 1767225601000, "", {}, 20.0};
  EffectBatch batch;
  counters.add(click, "events/0", 0, batch);
  counters.add(buy, "events/0", 1, batch);
  counters.add_covisit("pen", "book", "events/0", 1, batch);
  { Status s = writer_.write(*conn_, batch); ASSERT_TRUE(s.ok()) << s.message(); }
  EXPECT_EQ(redis_.cli("ZSCORE sr:{i:book}:cv pen"), "1\n");
  EXPECT_EQ(redis_.cli("ZSCORE sr:{i:pen}:cv book"), "1\n");
  EXPECT_EQ(hget("sr:{u:alice}:f", "clicks"), "1\n");
  EXPECT_EQ(hget("sr:{u:alice}:f", "purchases"), "1\n");
  EXPECT_EQ(hget("sr:{u:alice}:f", "ts"), "1767225601000\n");
  EXPECT_EQ(hget("sr:{i:book}:f", "clicks"), "1\n");
  EXPECT_EQ(hget("sr:{i:book}:f", "purchases"), "1\n");
  double expected = std::log2(std::exp2(counters.popularity_exponent(EventType::kClick, click.ts_ms) - 490000) +
                              std::exp2(counters.popularity_exponent(EventType::kPurchase, buy.ts_ms) - 490000)) +
                    490000;
  EXPECT_NEAR(std::stod(redis_.cli("ZSCORE sr:pop book")), expected, 1e-6);
  // The user's effects under the partition's mark, the item's under their own.
  EXPECT_EQ(hget("sr:marks", "events/0"), "1\n");
  EXPECT_EQ(hget("sr:marks", "~events/0"), "1\n");
}

}  // namespace
}  // namespace streamrec

namespace streamrec {
namespace {

TEST_F(IdempotentWriterTest, AFailingBatchWritesNothingSoARetryCannotDoubleCount) {
  ASSERT_EQ(redis_.cli("HSET 'k{2}' broken abc"), "1\n");
  EffectBatch batch;
  batch.add("k{2}", "s", 1, EffectOp::kIncrement, "good", 1);
  batch.add("k{2}", "s", 2, EffectOp::kIncrement, "broken", 1);  // not a number: the script must fail
  IdempotentWriter one_call("sr:marks", 64);
  for (int retry = 0; retry < 3; ++retry) EXPECT_FALSE(one_call.write(*conn_, batch).ok());
  EXPECT_EQ(hget("k{2}", "good"), "\n");  // nil: nothing of the failed script stuck
  EXPECT_EQ(redis_.cli("EXISTS sr:marks"), "0\n");
}

TEST_F(IdempotentWriterTest, ASecondWriterOnTheSamePartitionsNeverDoublesAnEffect) {
  // Two learners around a rebalance: both hold offsets 0..9 of one partition
  // and write them in different batches, in interleaved order. Each writer
  // trusts the marks it knows until a compare-and-set tells it they moved.
  IdempotentWriter other("sr:marks", 3);
  EffectBatch early, late, all;
  for (int o = 0; o < 10; ++o) {
    (o < 6 ? early : late).add("k{4}", "events/7", o, EffectOp::kIncrement, "n", 1);
    all.add("k{4}", "events/7", o, EffectOp::kIncrement, "n", 1);
  }
  ASSERT_TRUE(writer_.write(*conn_, early).ok());  // writer_ knows mark 5
  ASSERT_TRUE(other.write(*conn_, all).ok());       // other reads 5, applies 6..9
  Status s = writer_.write(*conn_, late);           // writer_ still believes 5
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(hget("k{4}", "n"), "10\n");
  EXPECT_EQ(hget("sr:marks", "events/7"), "9\n");
}

TEST_F(IdempotentWriterTest, EffectsOnOneKeyAreSummedIntoOneWritePerSlice) {
  EffectBatch batch;
  for (int o = 0; o < 1000; ++o) {
    batch.add("k{5}", "events/0", o, EffectOp::kIncrement, "n", 1);
    batch.add("k{5}", "events/0", o, EffectOp::kMax, "ts", o);
  }
  IdempotentWriter writer("sr:marks", 512);
  ASSERT_EQ(redis_.cli("CONFIG RESETSTAT"), "OK\n");
  ASSERT_TRUE(writer.write(*conn_, batch).ok());
  EXPECT_EQ(hget("k{5}", "n"), "1000\n");
  EXPECT_EQ(hget("k{5}", "ts"), "999\n");
  // One HMGET and one HSET for the key, one HGET and one HSET of the mark.
  std::string stats = redis_.cli("INFO commandstats");
  EXPECT_NE(stats.find("cmdstat_hmget:calls=2,"), std::string::npos) << stats;  // + the writer's read of the marks
  EXPECT_NE(stats.find("cmdstat_hset:calls=2,"), std::string::npos) << stats;
}

TEST_F(IdempotentWriterTest, SetKeepsTheLatestValueAndLargeCountersStayIntegers) {
  EffectBatch batch;
  batch.set("k{3}", "items/0", 1, "category", "books");
  batch.set("k{3}", "items/0", 2, "category", "toys");
  batch.add("k{3}", "events/0", 1, EffectOp::kIncrement, "n", 123456789012);
  { Status s = writer_.write(*conn_, batch); ASSERT_TRUE(s.ok()) << s.message(); }
  EXPECT_EQ(hget("k{3}", "category"), "toys\n");
  EXPECT_EQ(hget("k{3}", "n"), "123456789012\n");
}

TEST_F(IdempotentWriterTest, AKeyOfSeveralSourcesIsSummedIntoOneWriteAndEachSourceCountsOnce) {
  EffectBatch batch, replay;
  for (int partition = 0; partition < 6; ++partition)
    for (int o = 0; o < 10; ++o) {
      std::string source = "events/" + std::to_string(partition);
      batch.add("k{6}", source, 100 * partition + o, EffectOp::kIncrement, "n", 1);
      if (partition == 2 && o >= 4) replay.add("k{6}", source, 100 * partition + o, EffectOp::kIncrement, "n", 1);
    }
  IdempotentWriter writer("sr:marks", 64);
  ASSERT_EQ(redis_.cli("CONFIG RESETSTAT"), "OK\n");
  ASSERT_TRUE(writer.write(*conn_, batch).ok());
  EXPECT_EQ(hget("k{6}", "n"), "60\n");
  for (int partition = 0; partition < 6; ++partition)
    EXPECT_EQ(hget("sr:marks", "events/" + std::to_string(partition)), std::to_string(100 * partition + 9) + "\n");
  // One script, one HSET for the key and one for the six marks.
  std::string stats = redis_.cli("INFO commandstats");
  EXPECT_NE(stats.find("cmdstat_evalsha:calls=1,"), std::string::npos) << stats;
  EXPECT_NE(stats.find("cmdstat_hset:calls=2,"), std::string::npos) << stats;

  IdempotentWriter after_a_crash("sr:marks", 64);  // reads the marks afresh
  ASSERT_TRUE(after_a_crash.write(*conn_, replay).ok());
  EXPECT_EQ(hget("k{6}", "n"), "60\n");
}

}  // namespace
}  // namespace streamrec

namespace streamrec {
namespace {

// A second of a replay at full speed touches tens of thousands of items:
// sr:pop gets one member each, in one script (a ZSET key is one key of a
// slice, whatever its members). Lua's unpack() stops at about 8000 values.
TEST_F(IdempotentWriterTest, FiftyThousandPopularityMembersAndHashFieldsGoInOneScript) {
  constexpr int kMembers = 50000;
  EffectBatch batch, again;
  for (int i = 0; i < kMembers; ++i) {
    std::string item = "i" + std::to_string(i);
    batch.add("sr:pop", "events/0", i, EffectOp::kLogAdd, item, 10.0);
    batch.add("sr:{u:wide}:f", "events/0", i, EffectOp::kIncrement, item, 1);
    // Members that exist already: the script reads their scores first.
    again.add("sr:pop", "events/0", kMembers + i, EffectOp::kLogAdd, item, 10.0);
  }
  IdempotentWriter writer("sr:marks");  // the default slices
  // Two scripts of 100k effects each take seconds of Redis time on a loaded
  // two-core machine: a connection that waits for them (the product's
  // redis.timeout_ms is 5 s; this is about correctness, not speed).
  auto patient = RedisConnection::connect(redis_.url(), 60000);
  ASSERT_TRUE(patient.ok()) << patient.error().message;
  conn_.emplace(std::move(patient).value());
  ASSERT_EQ(redis_.cli("CONFIG RESETSTAT"), "OK\n");
  { Status s = writer.write(*conn_, batch); ASSERT_TRUE(s.ok()) << s.message(); }
  { Status s = writer.write(*conn_, again); ASSERT_TRUE(s.ok()) << s.message(); }
  EXPECT_NE(redis_.cli("INFO commandstats").find("cmdstat_evalsha:calls=2,"), std::string::npos);
  EXPECT_EQ(redis_.cli("ZCARD sr:pop"), std::to_string(kMembers) + "\n");
  EXPECT_EQ(redis_.cli("HLEN 'sr:{u:wide}:f'"), std::to_string(kMembers) + "\n");
  for (const char* item : {"i0", "i999", "i1000", "i25000", "i49999"}) {
    EXPECT_NEAR(std::stod(redis_.cli(std::string("ZSCORE sr:pop ") + item)), 11.0, 1e-9) << item;
    EXPECT_EQ(hget("sr:{u:wide}:f", item), "1\n") << item;
  }
  EXPECT_EQ(hget("sr:marks", "events/0"), std::to_string(2 * kMembers - 1) + "\n");
}

}  // namespace
}  // namespace streamrec
