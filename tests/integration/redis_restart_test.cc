// Redis crashes mid-stream (SIGKILL) and is started again from its
// append-only file, as docker-compose.yml runs it: the learner retries its
// writes while Redis is gone, commits nothing meanwhile, and ends with every
// counter exact -- nothing lost with the crash, nothing doubled by the
// retries or the re-delivery.
#include <signal.h>

#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

class RedisRestartTest : public PipelineTest {
 protected:
  RedisRestartTest() : PipelineTest(RedisOptions{.append_only = true}) {}
};

TEST_F(RedisRestartTest, RedisKilledAndRestartedWithItsAppendOnlyFileMidStreamLosesNothingAndDoublesNothing) {
  auto learner = start_learner({"--set", "redis.timeout_ms=300", "--set", "redis.write_interval_ms=100",
                                "--set", "consumer.batch_max_messages=500", "--set", "consumer.commit_interval_ms=200",
                                "--status-interval", "0.2"});
  produce_events(make_events(120000, 1500, 400));
  ASSERT_TRUE(eventually([&] { return events_in_redis() >= 15000; }, std::chrono::seconds(60)));

  redis_.stop(/*clean=*/false);  // a crash: whatever the AOF holds is what Redis has
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  redis_.start();
  reconnect_redis();
  const int64_t after_restart = events_in_redis();
  ASSERT_GT(after_restart, 0) << "Redis came back empty: the append-only file was not read";
  ASSERT_LT(after_restart, expected_.events) << "the stream ended before the crash; make it longer";

  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(90)))
      << "Redis holds " << events_in_redis() << " of " << expected_.events << " events";
  expect_exact_counters();
  ASSERT_TRUE(eventually([&] { return stats_number(stats_file(), "events") == expected_.events; },
                         std::chrono::seconds(10)));
  EXPECT_GT(stats_number(stats_file(), "effects_write_failures"), 0) << "the restart did not hit a write";
  EXPECT_EQ(stats_number(stats_file(), "joiner_duplicates"), 0) << "a retried batch reached the learner twice";
  EXPECT_EQ(learner->stop(), 0);
  // Nothing was counted twice: every counter exact, and no more than that.
  EXPECT_EQ(events_in_redis(), expected_.events);
}

}  // namespace
}  // namespace streamrec::testing
