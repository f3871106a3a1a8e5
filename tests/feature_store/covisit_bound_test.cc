// rankings.covisit_redis_max_members, against a real redis-server: the
// effects script trims each co-visit key (sr:{i:<id>}:cv) to its most
// co-visited members once it holds a quarter more, keeps their counts
// exact, does it exactly once under replay, and touches no other ZSET.
// Off (0), a key keeps every member.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>

#include "feature_store/feature_effects.h"
#include "feature_store/idempotent_writer.h"
#include "feature_store/redis_connection.h"
#include "feature_store/redis_keys.h"
#include "tests/support/servers.h"

namespace streamrec {
namespace {

constexpr int64_t kBound = 8;       // trimmed once a key holds more than 10
constexpr int kWrites = 40;
constexpr int kFrequent = 8;        // neighbours co-visited with the hub in every write
const std::string kSource = "events/0";

std::string frequent(int j) { return "frequent" + std::to_string(j); }
std::string rare(int w) { return "rare" + std::to_string(100 + w); }  // same width: names sort as numbers

class CoVisitBoundTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto conn = RedisConnection::connect(redis_.url(), 2000);
    ASSERT_TRUE(conn.ok()) << conn.error().message;
    conn_.emplace(std::move(conn).value());
  }
  IdempotentWriter capped_writer(int64_t max_members) {
    IdempotentWriter writer(keys_.marks());
    writer.cap_zsets(RedisKeys::item_covisits_end(), max_members);
    return writer;
  }
  // Write w co-visits the hub with every frequent neighbour and with one
  // rare neighbour of its own, one message (offset) per co-visit.
  EffectBatch write_number(int w) const {
    EffectBatch batch;
    int64_t offset = w * 10;
    for (int j = 0; j < kFrequent; ++j) effects_.add_covisit("hub", frequent(j), kSource, offset++, batch);
    effects_.add_covisit("hub", rare(w), kSource, offset, batch);
    return batch;
  }
  std::string members(const std::string& item) {
    return redis_.cli("ZRANGE '" + keys_.item_covisits(item) + "' 0 -1 WITHSCORES");
  }
  int64_t size(const std::string& item) { return std::stoll(redis_.cli("ZCARD '" + keys_.item_covisits(item) + "'")); }

  testing::RedisServer redis_;
  std::optional<RedisConnection> conn_;
  const RedisKeys keys_{"sr:"};
  const FeatureEffects effects_{keys_, PopularityConfig{}};
};

// What the hub's key holds after all kWrites: the frequent neighbours with
// every co-visit, then the last rare one (the others came one at a time,
// never out-counted a frequent one, and were trimmed).
std::string expected_hub() {
  std::string out = rare(kWrites - 1) + "\n1\n";
  for (int j = 0; j < kFrequent; ++j) out += frequent(j) + "\n" + std::to_string(kWrites) + "\n";
  return out;
}

TEST_F(CoVisitBoundTest, AKeyKeepsAtMostTheBoundAndASlackAndItsMostCoVisitedWithExactCounts) {
  ASSERT_EQ(IdempotentWriter::zset_trim_above(kBound), 10);
  IdempotentWriter writer = capped_writer(kBound);
  int64_t largest = 0;
  bool trimmed = false;
  for (int w = 0; w < kWrites; ++w) {
    Status s = writer.write(*conn_, write_number(w));
    ASSERT_TRUE(s.ok()) << s.message();
    const int64_t n = size("hub");
    largest = std::max(largest, n);
    trimmed |= n < kFrequent + 1 + w && n == kBound;  // fewer than written: trimmed, down to the bound
  }
  EXPECT_EQ(largest, 10) << "the key grows to the bound and its slack, no further";
  EXPECT_TRUE(trimmed);
  EXPECT_EQ(members("hub"), expected_hub());
  // The other side of each pair is its own key, far below the bound.
  EXPECT_EQ(members(frequent(3)), "hub\n" + std::to_string(kWrites) + "\n");
  EXPECT_EQ(members(rare(0)), "hub\n1\n");
}

TEST_F(CoVisitBoundTest, ReplayingTheSameEffectsChangesNothing) {
  IdempotentWriter writer = capped_writer(kBound);
  for (int w = 0; w < kWrites; ++w) ASSERT_TRUE(writer.write(*conn_, write_number(w)).ok());
  const std::string hub = members("hub");
  const std::string marks = redis_.cli("HGETALL " + keys_.marks());
  ASSERT_EQ(hub, expected_hub());

  // Re-delivered after a crash, in other batches: a fresh writer (marks
  // read afresh) gets the whole stream again in one batch, then the last
  // ten writes again one by one.
  IdempotentWriter after_a_crash = capped_writer(kBound);
  EffectBatch everything;
  for (int w = 0; w < kWrites; ++w) everything.append(write_number(w));
  { Status s = after_a_crash.write(*conn_, everything); ASSERT_TRUE(s.ok()) << s.message(); }
  for (int w = kWrites - 10; w < kWrites; ++w) ASSERT_TRUE(after_a_crash.write(*conn_, write_number(w)).ok());
  EXPECT_EQ(members("hub"), hub);
  EXPECT_EQ(members(frequent(0)), "hub\n" + std::to_string(kWrites) + "\n");
  EXPECT_EQ(redis_.cli("HGETALL " + keys_.marks()), marks);

  // The writes after them still count, and trim as before.
  ASSERT_TRUE(after_a_crash.write(*conn_, write_number(kWrites)).ok());
  EXPECT_EQ(size("hub"), kFrequent + 2);
  ASSERT_TRUE(after_a_crash.write(*conn_, write_number(kWrites + 1)).ok());
  EXPECT_EQ(size("hub"), kBound);
  EXPECT_EQ(redis_.cli("ZSCORE '" + keys_.item_covisits("hub") + "' " + frequent(0)), std::to_string(kWrites + 2) + "\n");
}

TEST_F(CoVisitBoundTest, OnlyCoVisitKeysAreTrimmed) {
  IdempotentWriter writer = capped_writer(kBound);
  EffectBatch batch;
  for (int k = 0; k < 30; ++k) {
    batch.add(keys_.popularity(), kSource, k, EffectOp::kLogAdd, "item" + std::to_string(k), 1);
    // A ZSET whose name holds the co-visit keys' ending, but not at its end.
    batch.add(keys_.user_rankings("a}:cv"), kSource, k, EffectOp::kZIncrement, "item" + std::to_string(k), 1);
    batch.add(keys_.item_covisits("x"), kSource, k, EffectOp::kZIncrement, "item" + std::to_string(k), 1);
  }
  Status s = writer.write(*conn_, batch);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(redis_.cli("ZCARD " + keys_.popularity()), "30\n");
  EXPECT_EQ(redis_.cli("ZCARD '" + keys_.user_rankings("a}:cv") + "'"), "30\n");
  EXPECT_EQ(size("x"), kBound);
}

TEST_F(CoVisitBoundTest, ZeroKeepsEveryMember) {
  IdempotentWriter writer = capped_writer(0);
  for (int w = 0; w < kWrites; ++w) ASSERT_TRUE(writer.write(*conn_, write_number(w)).ok());
  EXPECT_EQ(size("hub"), kFrequent + kWrites);
  EXPECT_EQ(redis_.cli("ZSCORE '" + keys_.item_covisits("hub") + "' " + rare(0)), "1\n");
}

}  // namespace
}  // namespace streamrec
