// The Kafka side fails under a running learner (the embedded broker in this
// process, so the test can take its brokers down): the broker that leads
// every events partition goes down and comes back, then the one that
// coordinates the consumer group, for longer than the session timeout.
// The learner waits out the first, keeps fetching through the second (its
// commits fail meanwhile), rejoins the group, and ends with every counter
// exact: what came again after the rejoin was skipped, nothing was lost.
#include <thread>

#include "core/embedded_broker.h"
#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

constexpr int kPartitions = 6;
constexpr int32_t kLeader = 1, kCoordinator = 2;

std::string read_log(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class BrokerOutageTest : public PipelineTest {
 protected:
  BrokerOutageTest() : PipelineTest(RedisOptions{}, KafkaOptions{.in_process = true}) {}
  EmbeddedBroker& cluster() { return *broker_.embedded(); }
};

TEST_F(BrokerOutageTest, TheLeaderAndTheGroupCoordinatorDownAndBackLoseNothingAndDoubleNothing) {
  for (int p = 0; p < kPartitions; ++p) ASSERT_TRUE(cluster().set_partition_leader("events", p, kLeader).ok());
  ASSERT_TRUE(cluster().set_group_coordinator("streamrec", kCoordinator).ok());
  auto learner = start_learner({"--set", "consumer.commit_interval_ms=200", "--set", "redis.write_interval_ms=100",
                                "--set", "consumer.batch_max_messages=500", "--status-interval", "0.2"});
  produce_events(make_events(20000, 1500, 400));
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)));

  // The leader down for 4 s while 20000 more events are sent: nothing can
  // be produced or fetched meanwhile (the mock elects no other leader);
  // kcat and the learner wait, and go on when it is back.
  ASSERT_TRUE(cluster().set_broker_down(kLeader).ok());
  std::thread producer([&] { produce_events(make_events(20000, 1500, 400, /*first_id=*/20000)); });
  std::this_thread::sleep_for(std::chrono::seconds(4));
  EXPECT_EQ(events_in_redis(), 20000) << "events got through a leader that was down";
  ASSERT_TRUE(cluster().set_broker_up(kLeader).ok());
  producer.join();
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)))
      << "Redis holds " << events_in_redis() << " of " << expected_.events << " events after the leader came back";
  EXPECT_TRUE(learner->running());

  // The coordinator down for 7 s while 40000 more events arrive: commits
  // fail; after the session timeout (6 s) the consumer gives its partitions
  // up (librdkafka cannot tell whether the group still has it) and joins
  // again once the coordinator is back, from the committed offsets.
  ASSERT_TRUE(eventually([&] { return stats_number(stats_file(), "commits") > 0; }, std::chrono::seconds(10)));
  ASSERT_TRUE(cluster().set_broker_down(kCoordinator).ok());
  produce_events(make_events(40000, 1500, 400, /*first_id=*/40000));
  std::this_thread::sleep_for(std::chrono::seconds(7));
  ASSERT_TRUE(cluster().set_broker_up(kCoordinator).ok());

  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)))
      << "Redis holds " << events_in_redis() << " of " << expected_.events << " events";
  // The events can all be in Redis before the session even times out (the
  // partitions' leaders kept serving fetches): the rejoin is waited for,
  // not raced by the stop below.
  ASSERT_TRUE(eventually([&] { return count(read_log(dir_ + "/learn-0.log"), "partition(s) assigned") >= 2; },
                         std::chrono::seconds(60)))
      << "the outage did not make the learner join again";
  // Settled: whatever came again after the rejoin was skipped.
  ASSERT_TRUE(eventually([&] { return stats_number(stats_file(), "lag") == 0 && stats_number(stats_file(), "held_for_event_time") == 0; },
                         std::chrono::seconds(30)));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  expect_exact_counters();
  EXPECT_EQ(events_in_redis(), expected_.events);
  EXPECT_TRUE(learner->running());
  EXPECT_EQ(learner->stop(), 0);
  const std::string log = read_log(dir_ + "/learn-0.log");
  EXPECT_GE(count(log, "partition(s) assigned"), 2) << "the outage did not make the learner join again";
  // Its offsets were committed after the outages: a learner started now
  // has nothing left to read.
  const std::string next_stats = dir_ + "/next-stats.json";
  auto next = start_learner({"--stop-after-idle", "3"}, next_stats);
  EXPECT_EQ(next->wait(std::chrono::seconds(40)), 0);
  EXPECT_EQ(stats_number(next_stats, "messages"), 0);
  expect_exact_counters();
}

}  // namespace
}  // namespace streamrec::testing
