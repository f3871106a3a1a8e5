// The learner reports its consumer lag: events in Kafka it has not consumed
// yet. While it is stopped (SIGSTOP) the stream piles up; once it runs again
// the lag it reports is the backlog, and it falls to zero as it catches up.
#include <signal.h>

#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

TEST_F(PipelineTest, TheLearnerReportsItsBacklogAsLagUntilItCatchesUp) {
  std::string stats = dir_ + "/stats.json";
  auto learner = start_learner({"--status-interval", "0.1"}, stats);
  ASSERT_TRUE(eventually([&] { return stats_number(stats, "lag") == 0; }, std::chrono::seconds(30)));
  ASSERT_TRUE(eventually([&] { return run_shell("grep -c 'partition(s) assigned' " + dir_ + "/learn-0.log") != "0\n"; },
                         std::chrono::seconds(30)));

  learner->signal(SIGSTOP);
  std::vector<Event> events = make_events(200000, 2000, 500);
  produce_events(events);
  learner->signal(SIGCONT);

  double most = 0;
  ASSERT_TRUE(eventually(
      [&] {
        most = std::max(most, stats_number(stats, "lag"));
        return events_in_redis() == expected_.events;
      },
      std::chrono::seconds(120)));
  EXPECT_GT(most, 10000) << "the backlog of 200000 events never showed as lag";
  EXPECT_LE(most, 200000);
  EXPECT_TRUE(eventually([&] { return stats_number(stats, "lag") == 0; }, std::chrono::seconds(10)))
      << "lag " << stats_number(stats, "lag") << " after catching up";
  EXPECT_EQ(learner->stop(), 0);
}

}  // namespace
}  // namespace streamrec::testing
