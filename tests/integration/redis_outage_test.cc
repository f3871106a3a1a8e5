// Redis down for longer than the consumer's max.poll.interval.ms (five
// minutes by default; 7 s here): while it retries the write, the learner
// pauses its partitions and keeps polling, so it stays in the consumer group
// (no rebalance, the same partitions), commits nothing, and resumes when
// Redis is back with every counter exact.
#include <fstream>

#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

std::string read_log(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class RedisOutageTest : public PipelineTest {
 protected:
  RedisOutageTest() : PipelineTest(RedisOptions{.append_only = true}) {}
};

TEST_F(RedisOutageTest, RedisDownLongerThanTheMaxPollIntervalKeepsTheGroupMembershipAndEndsExact) {
  auto learner = start_learner({"--set", "kafka.properties.max.poll.interval.ms=7000", "--set",
                                "redis.timeout_ms=300", "--set", "redis.write_interval_ms=100", "--set",
                                "consumer.batch_max_messages=500", "--set", "consumer.commit_interval_ms=200",
                                "--status-interval", "0.5"});
  produce_events(make_events(20000, 1500, 400));
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)));
  ASSERT_TRUE(eventually([&] { return read_log(dir_ + "/learn-0.log").find("partition(s) assigned") != std::string::npos; },
                         std::chrono::seconds(10)));

  // Redis goes away (cleanly: its append-only file keeps what it had) for
  // twice the poll interval, while more events arrive throughout: in 7
  // slices, 2 s apart (all at once, an idle learner consumed them within
  // half a second, before any write had failed, and had nothing left to
  // pause).
  redis_.stop(/*clean=*/true);
  const std::vector<Event> more = make_events(21000, 1500, 400, /*first_id=*/20000);
  for (size_t first = 0; first < more.size(); first += 3000) {
    produce_events(std::vector<Event>(more.begin() + static_cast<std::ptrdiff_t>(first),
                                      more.begin() + static_cast<std::ptrdiff_t>(first + 3000)));
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  EXPECT_TRUE(learner->running());
  redis_.start();
  reconnect_redis();

  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)))
      << "Redis holds " << events_in_redis() << " of " << expected_.events << " events";
  expect_exact_counters();
  EXPECT_GT(stats_number(stats_file(), "sink_retries"), 0) << "the outage did not hit a write";
  const std::string log = read_log(dir_ + "/learn-0.log");
  // The membership was kept: one assignment, nothing revoked, no poll-interval expiry.
  EXPECT_EQ(count(log, "partition(s) assigned"), 1) << log.substr(0, 20000);
  EXPECT_EQ(count(log, "partition(s) revoked"), 0);
  EXPECT_EQ(count(log, "maximum poll interval"), 0);
  EXPECT_NE(log.find("pausing"), std::string::npos) << "the learner did not say it paused";
  EXPECT_EQ(learner->stop(), 0);
  EXPECT_EQ(stats_number(stats_file(), "events"), expected_.events) << "an event was handed on twice";
  EXPECT_EQ(events_in_redis(), expected_.events);
}

}  // namespace
}  // namespace streamrec::testing
