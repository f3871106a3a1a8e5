// Two learners in one consumer group split the partitions and both make
// progress; when one is killed, the other takes its partitions over and every
// event is accounted for, once: retries of what the killed one consumed are
// dropped too.
#include <signal.h>

#include <fstream>
#include <thread>

#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

int64_t consumed(const std::string& stats) { return std::max<int64_t>(0, stats_number(stats, "events")); }

TEST_F(PipelineTest, TheSurvivorOfTwoLearnersTakesOverAndCountsEveryEvent) {
  std::string stats_a = dir_ + "/a.json", stats_b = dir_ + "/b.json";
  std::vector<std::string> quick = {"--status-interval", "0.2", "--set", "consumer.commit_interval_ms=100"};
  auto a = start_learner(quick, stats_a);
  auto b = start_learner(quick, stats_b);
  // Both joined: each has its share of the partitions.
  ASSERT_TRUE(eventually([&] { return std::ifstream(stats_a).good() && std::ifstream(stats_b).good(); },
                         std::chrono::seconds(30)));
  // (The first may have had all partitions for a moment, before the second
  // joined: count the logs with an assignment, not the lines.)
  ASSERT_TRUE(eventually(
      [&] {
        return run_shell("grep -l 'partition(s) assigned' " + dir_ + "/learn-0.log " + dir_ + "/learn-1.log | wc -l") ==
               "2\n";
      },
      std::chrono::seconds(30)));

  std::vector<Event> events = make_events(60000, 1000, 300);
  produce_events(std::vector<Event>(events.begin(), events.begin() + 30000));
  ASSERT_TRUE(eventually([&] { return consumed(stats_a) > 0 && consumed(stats_b) > 0; }, std::chrono::seconds(60)))
      << "both learners must make progress: " << consumed(stats_a) << " and " << consumed(stats_b);
  ASSERT_TRUE(eventually([&] { return events_in_redis() == 30000; }, std::chrono::seconds(60)));

  // A commits every 100 ms: by now it has committed all it applied, so B
  // will re-read (not replay) what A consumed.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  a->signal(SIGKILL);
  ASSERT_EQ(a->wait(std::chrono::seconds(10)), 128 + SIGKILL);
  int64_t b_before = consumed(stats_b);
  produce_events(std::vector<Event>(events.begin() + 30000, events.end()));
  // Producer retries of 300 events of the first half, some on A's
  // partitions: B drops them all, those because it re-read what A had
  // consumed when it took the partitions over.
  std::vector<std::string> keys, payloads;
  for (size_t i = 29700; i < 30000; ++i) {
    keys.push_back(events[i].user_id);
    payloads.push_back(encode_event(events[i]));
  }
  produce_with_kcat(keys, payloads);

  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(90)))
      << "Redis holds " << events_in_redis() << " of " << expected_.events << " events";
  expect_exact_counters();
  // B alone consumed the second half: its own partitions and A's.
  ASSERT_TRUE(eventually([&] { return consumed(stats_b) - b_before >= 30000; }, std::chrono::seconds(10)))
      << consumed(stats_b) - b_before;
  EXPECT_TRUE(eventually([&] { return stats_number(stats_b, "duplicates") == 300; }, std::chrono::seconds(10)))
      << stats_number(stats_b, "duplicates") << " of the 300 retries dropped";
  EXPECT_GT(stats_number(stats_b, "remembered"), 0);
  EXPECT_EQ(b->stop(), 0);
  expect_exact_counters();  // the retries counted nowhere
}

}  // namespace
}  // namespace streamrec::testing
