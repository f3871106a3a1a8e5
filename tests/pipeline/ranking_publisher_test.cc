// Rankings are written on the publisher's own thread, against a real
// redis-server: every one lands, a user's newest wins while older ones wait,
// and a write Redis refuses is tried again until Redis takes it.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "core/wall_clock.h"
#include "pipeline/ranking_publisher.h"
#include "tests/support/servers.h"

namespace streamrec::pipeline {
namespace {

constexpr auto kWait = std::chrono::seconds(5);  // for what the publisher's thread does

class RankingPublisherTest : public ::testing::Test {
 protected:
  Config config() const {
    Config c;
    c.redis.url = redis_.url();
    return c;
  }
  static PublishedRanking ranking(const std::string& user, const std::string& item, int64_t asked_at) {
    return {{"sr:{u:" + user + "}:rec", {{item, 1.0}}}, asked_at};
  }
  testing::RedisServer redis_;
};

TEST_F(RankingPublisherTest, WritesEveryRankingAndMeasuresItsFreshness) {
  const int64_t asked_at = wall_clock_ms() - 50;
  {
    RankingPublisher publisher(config());
    std::vector<PublishedRanking> rankings = {ranking("a", "i1", asked_at), ranking("b", "i2", asked_at),
                                              ranking("c", "i3", -1)};
    publisher.publish(rankings);
    EXPECT_TRUE(rankings.empty());
    ASSERT_TRUE(testing::eventually([&] { return publisher.stats().rankings_written == 3; }, kWait));
    RankingStats stats = publisher.stats();
    EXPECT_EQ(stats.ranking_write_failures, 0);
    EXPECT_EQ(stats.freshness_ms.count(), 2u);  // "c" was not measured
    EXPECT_GE(stats.freshness_ms.percentile(0.5), 50.0);
  }
  EXPECT_EQ(redis_.cli("ZRANGE 'sr:{u:a}:rec' 0 -1"), "i1\n");
  EXPECT_EQ(redis_.cli("ZRANGE 'sr:{u:b}:rec' 0 -1"), "i2\n");
  EXPECT_EQ(redis_.cli("ZRANGE 'sr:{u:c}:rec' 0 -1"), "i3\n");
}

TEST_F(RankingPublisherTest, WhileRedisIsBusyAUsersNewestRankingReplacesTheWaitingOnes) {
  // Redis holds every write for 500 ms: the first ranking is in flight, the
  // 99 after it wait, and only the newest of them is written.
  const int64_t first_asked_at = wall_clock_ms() - 1000;
  RankingPublisher publisher(config());
  ASSERT_EQ(redis_.cli("CLIENT PAUSE 500 WRITE"), "OK\n");
  for (int v = 1; v <= 100; ++v) {
    std::vector<PublishedRanking> one = {ranking("a", "v" + std::to_string(v), v == 2 ? first_asked_at : wall_clock_ms())};
    publisher.publish(one);
  }
  ASSERT_TRUE(testing::eventually([&] { return redis_.cli("ZRANGE 'sr:{u:a}:rec' 0 -1") == "v100\n"; }, kWait));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // nothing older comes after it
  EXPECT_EQ(redis_.cli("ZRANGE 'sr:{u:a}:rec' 0 -1"), "v100\n");
  RankingStats stats = publisher.stats();
  EXPECT_LE(stats.rankings_written, 2);
  // v100 stood for v2, asked a second before: its freshness says so.
  EXPECT_GE(stats.freshness_ms.max(), 1000.0);
}

TEST_F(RankingPublisherTest, AWriteRedisRefusesIsTriedAgainUntilItLands) {
  ASSERT_EQ(redis_.cli("CONFIG SET maxmemory-policy noeviction"), "OK\n");
  ASSERT_EQ(redis_.cli("CONFIG SET maxmemory 1"), "OK\n");  // every write: OOM
  RankingPublisher publisher(config());
  std::vector<PublishedRanking> one = {ranking("a", "i1", wall_clock_ms())};
  publisher.publish(one);
  ASSERT_TRUE(testing::eventually([&] { return publisher.stats().ranking_write_failures >= 2; }, kWait));
  EXPECT_EQ(publisher.stats().rankings_written, 0);
  EXPECT_EQ(redis_.cli("EXISTS 'sr:{u:a}:rec'"), "0\n");

  ASSERT_EQ(redis_.cli("CONFIG SET maxmemory 0"), "OK\n");
  ASSERT_TRUE(testing::eventually([&] { return publisher.stats().rankings_written == 1; }, kWait));
  EXPECT_EQ(redis_.cli("ZRANGE 'sr:{u:a}:rec' 0 -1"), "i1\n");
}

}  // namespace
}  // namespace streamrec::pipeline
