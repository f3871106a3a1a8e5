// redis.user_ttl_s, against a real redis-server: a user's keys expire that
// long after their last write -- the effects script sets it on every user
// key it writes, the ranking writer on the ranking, its explanations and
// the user's hash -- and no other key gets a TTL. Off (0), nothing expires.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "feature_store/idempotent_writer.h"
#include "feature_store/ranking_writer.h"
#include "feature_store/redis_connection.h"
#include "feature_store/redis_keys.h"
#include "tests/support/servers.h"

namespace streamrec {
namespace {

class UserKeyTtlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto conn = RedisConnection::connect(redis_.url(), 2000);
    ASSERT_TRUE(conn.ok()) << conn.error().message;
    conn_.emplace(std::move(conn).value());
  }
  // TTL in seconds as Redis reports it: -1 none, -2 no key.
  int ttl(const std::string& key) { return std::stoi(redis_.cli("TTL '" + key + "'")); }

  testing::RedisServer redis_;
  std::optional<RedisConnection> conn_;
  const RedisKeys keys_{"sr:"};
};

TEST_F(UserKeyTtlTest, TheEffectsScriptSetsTheTtlOnUserKeysOnly) {
  IdempotentWriter writer(keys_.marks());
  writer.expire_user_keys(keys_.user_key_start(), 3600);
  EffectBatch batch;
  batch.add(keys_.user_features("alice"), "events/0", 1, EffectOp::kIncrement, "clicks", 1);
  batch.add(keys_.item_features("x"), "events/0", 1, EffectOp::kIncrement, "clicks", 1);
  batch.add(keys_.popularity(), "events/0", 1, EffectOp::kLogAdd, "x", 1);
  batch.add(keys_.item_features("{u:trick}"), "events/0", 1, EffectOp::kIncrement, "clicks", 1);
  Status s = writer.write(*conn_, batch);
  ASSERT_TRUE(s.ok()) << s.message();
  const int user_ttl = ttl(keys_.user_features("alice"));
  EXPECT_GT(user_ttl, 3500);
  EXPECT_LE(user_ttl, 3600);
  EXPECT_EQ(ttl(keys_.item_features("x")), -1);
  EXPECT_EQ(ttl(keys_.popularity()), -1);
  EXPECT_EQ(ttl(keys_.item_features("{u:trick}")), -1);  // an item id that looks like a user tag
  EXPECT_EQ(ttl(keys_.marks()), -1);
  EXPECT_EQ(redis_.cli("HGET 'sr:{u:alice}:f' clicks"), "1\n");
}

TEST_F(UserKeyTtlTest, AUserKeyExpiresAfterItsLastWriteAndNotBefore) {
  IdempotentWriter writer(keys_.marks());
  writer.expire_user_keys(keys_.user_key_start(), 2);
  EffectBatch first;
  first.add(keys_.user_features("bob"), "events/0", 1, EffectOp::kIncrement, "clicks", 1);
  ASSERT_TRUE(writer.write(*conn_, first).ok());
  EXPECT_GE(ttl(keys_.user_features("bob")), 1);
  // Redis expires it on its own clock; wait for that, however long the
  // machine takes (no timed assertion: only that it happens).
  for (int i = 0; i < 600 && redis_.cli("EXISTS 'sr:{u:bob}:f'") != "0\n"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(redis_.cli("EXISTS 'sr:{u:bob}:f'"), "0\n");
}

TEST_F(UserKeyTtlTest, WithoutATtlNothingExpires) {
  IdempotentWriter writer(keys_.marks());
  EffectBatch batch;
  batch.add(keys_.user_features("carol"), "events/0", 1, EffectOp::kIncrement, "clicks", 1);
  ASSERT_TRUE(writer.write(*conn_, batch).ok());
  EXPECT_EQ(ttl(keys_.user_features("carol")), -1);
  RankingWriter rankings;
  ASSERT_TRUE(rankings.write(*conn_, {{keys_.user_rankings("carol"), {{"i1", 1}}, keys_.user_features("carol")}}).ok());
  EXPECT_EQ(ttl(keys_.user_rankings("carol")), -1);
}

TEST_F(UserKeyTtlTest, TheRankingWriterSetsTheTtlOnTheRankingItsExplanationsAndTheUsersHash) {
  RankingWriter writer(600);
  Ranking r{keys_.user_rankings("dave"), {{"i1", 0.5}, {"i2", 0.4}}, keys_.user_features("dave"),
            keys_.user_explanations("dave"), {"recent", "popular"}};
  Status s = writer.write(*conn_, {r});
  ASSERT_TRUE(s.ok()) << s.message();
  for (const std::string& key : {keys_.user_rankings("dave"), keys_.user_features("dave"), keys_.user_explanations("dave")}) {
    EXPECT_GT(ttl(key), 500) << key;
    EXPECT_LE(ttl(key), 600) << key;
  }
}

}  // namespace
}  // namespace streamrec
