// Rankings are replaced whole, against a real redis-server.
#include <gtest/gtest.h>

#include <optional>

#include "core/wall_clock.h"
#include "feature_store/ranking_writer.h"
#include "tests/support/servers.h"

namespace streamrec {
namespace {

class RankingWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto conn = RedisConnection::connect(redis_.url(), 2000);
    ASSERT_TRUE(conn.ok()) << conn.error().message;
    conn_.emplace(std::move(conn).value());
  }
  testing::RedisServer redis_;
  std::optional<RedisConnection> conn_;
  RankingWriter writer_;
};

TEST_F(RankingWriterTest, ANewRankingReplacesTheOldOneWhole) {
  ASSERT_TRUE(writer_.write(*conn_, {{"sr:{u:a}:rec", {{"i1", 0.5}, {"i2", 0.9}, {"i3", 0.1}}, ""}}).ok());
  EXPECT_EQ(redis_.cli("ZREVRANGE 'sr:{u:a}:rec' 0 -1"), "i2\ni1\ni3\n");
  ASSERT_TRUE(writer_.write(*conn_, {{"sr:{u:a}:rec", {{"i4", 0.2}, {"i1", 0.3}}, ""},
                                     {"sr:{u:b}:rec", {{"i9", 1.0}}, ""}})
                  .ok());
  EXPECT_EQ(redis_.cli("ZREVRANGE 'sr:{u:a}:rec' 0 -1 WITHSCORES"), "i1\n0.29999999999999999\ni4\n0.20000000000000001\n");
  EXPECT_EQ(redis_.cli("ZRANGE 'sr:{u:b}:rec' 0 -1"), "i9\n");
}

TEST_F(RankingWriterTest, AnEmptyRankingRemovesTheKey) {
  ASSERT_TRUE(writer_.write(*conn_, {{"sr:{u:a}:rec", {{"i1", 1}}, ""}}).ok());
  ASSERT_TRUE(writer_.write(*conn_, {{"sr:{u:a}:rec", {}, ""}}).ok());
  EXPECT_EQ(redis_.cli("EXISTS 'sr:{u:a}:rec'"), "0\n");
}

TEST_F(RankingWriterTest, AKeyOfAnotherTypeIsReplacedWhole) {
  ASSERT_EQ(redis_.cli("SET 'sr:{u:x}:rec' oops"), "OK\n");
  // DEL succeeds inside the transaction, so the key is replaced, never half-written.
  Status s = writer_.write(*conn_, {{"sr:{u:x}:rec", {{"i1", 1}, {"i2", 2}}, ""}});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(redis_.cli("ZRANGE 'sr:{u:x}:rec' 0 -1"), "i1\ni2\n");
}

TEST_F(RankingWriterTest, TheWriteStampsItsTimeOnTheUsersFeaturesInTheSameTransaction) {
  const int64_t before = wall_clock_ms();
  ASSERT_TRUE(writer_.write(*conn_, {{"sr:{u:a}:rec", {{"i1", 1}}, "sr:{u:a}:f"}, {"sr:{u:b}:rec", {{"i2", 1}}, ""}}).ok());
  const int64_t stamped = std::stoll(redis_.cli("HGET 'sr:{u:a}:f' rec_ts"));
  EXPECT_GE(stamped, before);
  EXPECT_LE(stamped, wall_clock_ms());
  EXPECT_EQ(redis_.cli("EXISTS 'sr:{u:b}:f'"), "0\n");  // no stamp_key, no stamp
}

TEST_F(RankingWriterTest, ExplanationsAreReplacedWithTheirRankingAndNeverOutliveIt) {
  Ranking first{"sr:{u:a}:rec", {{"i1", 0.5}, {"i2", 0.9}}, "", "sr:{u:a}:why", {"recent|i1|||||||", "popular||||||||"}};
  ASSERT_TRUE(writer_.write(*conn_, {first}).ok());
  EXPECT_EQ(redis_.cli("HGET 'sr:{u:a}:why' i1"), "recent|i1|||||||\n");
  EXPECT_EQ(redis_.cli("HGET 'sr:{u:a}:why' i2"), "popular||||||||\n");
  // A new ranking's explanations replace the old ones whole.
  ASSERT_TRUE(writer_.write(*conn_, {{"sr:{u:a}:rec", {{"i3", 1}}, "", "sr:{u:a}:why", {"covisit|i1|||||||"}}}).ok());
  EXPECT_EQ(redis_.cli("HKEYS 'sr:{u:a}:why'"), "i3\n");
  // A ranking written without explanations (rankings.explain false) leaves none behind.
  ASSERT_TRUE(writer_.write(*conn_, {{"sr:{u:a}:rec", {{"i4", 1}}, "", "sr:{u:a}:why", {}}}).ok());
  EXPECT_EQ(redis_.cli("EXISTS 'sr:{u:a}:why'"), "0\n");
  EXPECT_EQ(redis_.cli("ZRANGE 'sr:{u:a}:rec' 0 -1"), "i4\n");
}

}  // namespace
}  // namespace streamrec
