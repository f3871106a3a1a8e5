// SIGKILL `streamrec learn` mid-stream, twice, and restart it: every counter
// in Redis still equals the true count, although Kafka re-delivers what was
// applied but not yet committed.
#include <signal.h>


#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

TEST_F(PipelineTest, CountersAreExactAfterSigkillAndRestart) {
  // Long enough that a learner catching up at full speed is still mid-stream
  // some 100 ms after it was seen to pass each mark.
  std::vector<Event> events = make_events(120000, 1500, 400);

  // The first learner commits often, so its restart resumes mid-stream. Both
  // write every 100 ms (not every second), so the kills land between writes.
  auto first = start_learner({"--set", "consumer.batch_max_messages=200", "--set", "consumer.commit_interval_ms=300",
                              "--set", "redis.write_interval_ms=100"});
  produce_events(events);
  ASSERT_TRUE(eventually([&] { return events_in_redis() >= 15000; }, std::chrono::seconds(60)));
  first->signal(SIGKILL);
  ASSERT_EQ(first->wait(std::chrono::seconds(10)), 128 + SIGKILL);
  int64_t applied_at_first_kill = settled_events_in_redis();
  ASSERT_LT(applied_at_first_kill, expected_.events) << "the stream ended before the kill; make it longer";

  // The second never commits on its own before it is killed: everything it
  // applied must come again and be skipped.
  auto second = start_learner({"--set", "consumer.batch_max_messages=200", "--set", "consumer.commit_interval_ms=600000",
                               "--set", "redis.write_interval_ms=100"});
  ASSERT_TRUE(eventually([&] { return events_in_redis() >= applied_at_first_kill + 15000; }, std::chrono::seconds(60)));
  second->signal(SIGKILL);
  ASSERT_EQ(second->wait(std::chrono::seconds(10)), 128 + SIGKILL);
  int64_t applied_at_second_kill = settled_events_in_redis();
  ASSERT_LT(applied_at_second_kill, expected_.events) << "the stream ended before the kill; make it longer";

  auto third = start_learner();
  ASSERT_TRUE(eventually([&] { return events_in_redis() >= expected_.events; }, std::chrono::seconds(90)))
      << "Redis holds " << events_in_redis() << " of " << expected_.events << " events";
  ASSERT_EQ(third->stop(), 0);

  expect_exact_counters();
  EXPECT_EQ(events_in_redis(), expected_.events);
  // The third learner re-read messages whose effects were already in Redis.
  int64_t consumed_by_third = static_cast<int64_t>(stats_number(stats_file(), "messages"));
  EXPECT_GT(consumed_by_third, expected_.events - applied_at_second_kill)
      << "no re-delivery happened, so the test did not exercise the replay";
}

}  // namespace
}  // namespace streamrec::testing
