// The dead-letter topic unavailable (its leader down, on the embedded broker
// in this process): a bad message never stops the consumer -- every good
// event around it is counted -- and none is lost. Its dead letter waits in
// the producer and its partition is committed no further than it; when the
// topic comes back the running learner delivers it, and a learner killed
// before that leaves its offset uncommitted, so the next one reads it again
// and delivers it.
#include <signal.h>

#include <set>
#include <sstream>

#include "core/embedded_broker.h"
#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

constexpr int32_t kStreamBroker = 1, kDeadLetterBroker = 3;

class DeadLetterOutageTest : public PipelineTest {
 protected:
  DeadLetterOutageTest() : PipelineTest(RedisOptions{}, KafkaOptions{.in_process = true}) {}
  EmbeddedBroker& cluster() { return *broker_.embedded(); }

  // `rounds` times: 200 good events, then one bad message (truncated JSON).
  void produce_with_bad_ones(int rounds, int first_round) {
    std::vector<std::string> keys, payloads;
    for (int r = first_round; r < first_round + rounds; ++r) {
      for (const Event& e : make_events(200, 300, 100, r * 200)) {
        keys.push_back(e.user_id);
        payloads.push_back(encode_event(e));
        expected_.add(e);
      }
      std::string bad = R"({"event_id":"bad)" + std::to_string(r) + R"(","type":"click",)";
      keys.push_back("bad");
      payloads.push_back(bad);
      bad_.insert(bad);
    }
    produce_with_kcat(keys, payloads);
  }

  // The payloads events.dlq holds, each once.
  std::multiset<std::string> dead_letters() {
    std::string out = run_shell("kcat -C -b " + broker_.bootstrap_servers() + " -t events.dlq -o beginning -e -q -f '%s\\n'");
    std::multiset<std::string> payloads;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) payloads.insert(line);
    return payloads;
  }

  std::vector<std::string> args() const {
    return {"--set", "consumer.commit_interval_ms=200", "--set", "redis.write_interval_ms=100", "--status-interval",
            "0.2"};
  }

  std::set<std::string> bad_;
};

TEST_F(DeadLetterOutageTest, AnUnavailableDeadLetterTopicNeverStopsTheConsumerAndLosesNoBadMessage) {
  for (int p = 0; p < 6; ++p) ASSERT_TRUE(cluster().set_partition_leader("events", p, kStreamBroker).ok());
  ASSERT_TRUE(cluster().set_partition_leader("items", 0, kStreamBroker).ok());
  ASSERT_TRUE(cluster().set_group_coordinator("streamrec", kStreamBroker).ok());
  ASSERT_TRUE(cluster().set_partition_leader("events.dlq", 0, kDeadLetterBroker).ok());

  // 1. The topic down while 20 bad messages come: the good ones are all
  // counted, the bad ones wait; back up, the running learner delivers them.
  ASSERT_TRUE(cluster().set_broker_down(kDeadLetterBroker).ok());
  auto first = start_learner(args());
  produce_with_bad_ones(20, 0);
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)))
      << "Redis holds " << events_in_redis() << " of " << expected_.events << " events: the consumer stopped?";
  ASSERT_TRUE(eventually([&] { return stats_number(stats_file(), "dead_letters_pending") == 20; },
                         std::chrono::seconds(10)));
  EXPECT_TRUE(first->running());
  ASSERT_TRUE(cluster().set_broker_up(kDeadLetterBroker).ok());
  ASSERT_TRUE(eventually([&] { return stats_number(stats_file(), "dead_letters_pending") == 0; },
                         std::chrono::seconds(30)));
  EXPECT_EQ(dead_letters().size(), 20u);

  // 2. Down again for 20 more, and the learner killed before it comes back:
  // nothing committed past them, the next learner reads and delivers them.
  ASSERT_TRUE(cluster().set_broker_down(kDeadLetterBroker).ok());
  produce_with_bad_ones(20, 20);
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)));
  ASSERT_TRUE(eventually([&] { return stats_number(stats_file(), "dead_letters_pending") == 20; },
                         std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // commits of what is durable went out
  first->signal(SIGKILL);
  ASSERT_EQ(first->wait(std::chrono::seconds(10)), 128 + SIGKILL);
  ASSERT_TRUE(cluster().set_broker_up(kDeadLetterBroker).ok());

  auto second = start_learner(args());
  ASSERT_TRUE(eventually([&] { return dead_letters().size() >= 40u; }, std::chrono::seconds(40)));
  EXPECT_EQ(second->stop(), 0);
  std::multiset<std::string> delivered = dead_letters();
  for (const std::string& bad : bad_) EXPECT_EQ(delivered.count(bad), 1u) << "in events.dlq: " << bad;
  EXPECT_EQ(delivered.size(), bad_.size());
  expect_exact_counters();
  EXPECT_EQ(events_in_redis(), expected_.events);

  // Everything is committed now: a learner started last reads nothing.
  const std::string last_stats = dir_ + "/last-stats.json";
  auto last = start_learner({"--stop-after-idle", "3"}, last_stats);
  EXPECT_EQ(last->wait(std::chrono::seconds(40)), 0);
  EXPECT_EQ(stats_number(last_stats, "messages"), 0);
}

}  // namespace
}  // namespace streamrec::testing
