// Rankings are written on the writer's own thread, against a real
// redis-server: every one lands, a user's newest wins while older ones wait,
// and a write Redis refuses is tried again until Redis takes it.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "core/wall_clock.h"
#include "feature_store/async_ranking_writer.h"
#include "tests/support/servers.h"

namespace streamrec {
namespace {

constexpr auto kWait = std::chrono::seconds(5);  // for what the writer's thread does

class AsyncRankingWriterTest : public ::testing::Test {
 protected:
  static UserRanking ranking(const std::string& user, const std::string& item, int64_t asked_at) {
    return {user, {{item, 1.0}}, asked_at};
  }
  testing::RedisServer redis_;
};

TEST_F(AsyncRankingWriterTest, WritesEveryRankingAndMeasuresItsFreshness) {
  const int64_t asked_at = wall_clock_ms() - 50;
  {
    AsyncRankingWriter writer(redis_.url(), 5000, "sr:");
    std::vector<UserRanking> rankings = {ranking("a", "i1", asked_at), ranking("b", "i2", asked_at),
                                              ranking("c", "i3", -1)};
    writer.submit(rankings);
    EXPECT_TRUE(rankings.empty());
    ASSERT_TRUE(testing::eventually([&] { return writer.stats().rankings_written == 3; }, kWait));
    RankingStats stats = writer.stats();
    EXPECT_EQ(stats.ranking_write_failures, 0);
    EXPECT_EQ(stats.freshness_ms.count(), 2u);  // "c" was not measured
    EXPECT_GE(stats.freshness_ms.percentile(0.5), 50.0);
  }
  EXPECT_EQ(redis_.cli("ZRANGE 'sr:{u:a}:rec' 0 -1"), "i1\n");
  EXPECT_EQ(redis_.cli("ZRANGE 'sr:{u:b}:rec' 0 -1"), "i2\n");
  EXPECT_EQ(redis_.cli("ZRANGE 'sr:{u:c}:rec' 0 -1"), "i3\n");
}

TEST_F(AsyncRankingWriterTest, WhileRedisIsBusyAUsersNewestRankingReplacesTheWaitingOnes) {
  // Redis holds every write for 500 ms: the first ranking is in flight, the
  // 99 after it wait, and only the newest of them is written.
  const int64_t first_asked_at = wall_clock_ms() - 1000;
  AsyncRankingWriter writer(redis_.url(), 5000, "sr:");
  ASSERT_EQ(redis_.cli("CLIENT PAUSE 500 WRITE"), "OK\n");
  for (int v = 1; v <= 100; ++v) {
    std::vector<UserRanking> one = {ranking("a", "v" + std::to_string(v), v == 2 ? first_asked_at : wall_clock_ms())};
    writer.submit(one);
  }
  ASSERT_TRUE(testing::eventually([&] { return redis_.cli("ZRANGE 'sr:{u:a}:rec' 0 -1") == "v100\n"; }, kWait));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // nothing older comes after it
  EXPECT_EQ(redis_.cli("ZRANGE 'sr:{u:a}:rec' 0 -1"), "v100\n");
  RankingStats stats = writer.stats();
  EXPECT_LE(stats.rankings_written, 2);
  // v100 stood for v2, asked a second before: its freshness says so.
  EXPECT_GE(stats.freshness_ms.max(), 1000.0);
}

TEST_F(AsyncRankingWriterTest, AWriteRedisRefusesIsTriedAgainUntilItLands) {
  ASSERT_EQ(redis_.cli("CONFIG SET maxmemory-policy noeviction"), "OK\n");
  ASSERT_EQ(redis_.cli("CONFIG SET maxmemory 1"), "OK\n");  // every write: OOM
  AsyncRankingWriter writer(redis_.url(), 5000, "sr:");
  std::vector<UserRanking> one = {ranking("a", "i1", wall_clock_ms())};
  writer.submit(one);
  ASSERT_TRUE(testing::eventually([&] { return writer.stats().ranking_write_failures >= 2; }, kWait));
  EXPECT_EQ(writer.stats().rankings_written, 0);
  EXPECT_EQ(redis_.cli("EXISTS 'sr:{u:a}:rec'"), "0\n");

  ASSERT_EQ(redis_.cli("CONFIG SET maxmemory 0"), "OK\n");
  ASSERT_TRUE(testing::eventually([&] { return writer.stats().rankings_written == 1; }, kWait));
  EXPECT_EQ(redis_.cli("ZRANGE 'sr:{u:a}:rec' 0 -1"), "i1\n");
}

}  // namespace
}  // namespace streamrec
