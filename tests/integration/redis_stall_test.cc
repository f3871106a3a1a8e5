// Redis stops answering mid-stream and comes back: the learner retries the
// write, commits nothing meanwhile, and ends with every counter exact and no
// event learned twice.
#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

TEST_F(PipelineTest, ARedisStallLosesNothingAndDoublesNothing) {
  auto learner = start_learner({"--set", "redis.timeout_ms=300", "--set", "redis.write_interval_ms=100",
                                "--set", "consumer.batch_max_messages=500",
                                "--status-interval", "0.2"});
  std::vector<Event> events = make_events(60000, 800, 200);
  produce_events(events);
  ASSERT_TRUE(eventually([&] { return events_in_redis() >= 10000; }, std::chrono::seconds(60)));
  // Redis is busy for two seconds: every write times out meanwhile.
  run_shell("redis-cli -p " + std::to_string(redis_.port()) + " DEBUG SLEEP 2 >/dev/null 2>&1 &");

  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(120)))
      << "Redis holds " << events_in_redis() << " of " << expected_.events << " events";
  expect_exact_counters();
  ASSERT_TRUE(eventually([&] { return stats_number(stats_file(), "events") == expected_.events; },
                         std::chrono::seconds(10)));
  EXPECT_GT(stats_number(stats_file(), "effects_write_failures"), 0) << "the stall did not hit a write";
  EXPECT_EQ(stats_number(stats_file(), "joiner_duplicates"), 0) << "a retried batch reached the learner twice";
  EXPECT_EQ(learner->stop(), 0);
}

}  // namespace
}  // namespace streamrec::testing
