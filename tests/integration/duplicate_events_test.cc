// A producer retry is the same event (same event_id) at a new offset. The
// learner drops it, also when the original was consumed by a learner that
// has stopped since: an assigned partition is first re-read before its start
// to remember the ids consumed there.
#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

TEST_F(PipelineTest, ARetryOfAnEventConsumedBeforeARestartIsDroppedAfterIt) {
  std::vector<Event> originals = make_events(2000, 200, 50);
  std::string first_stats = dir_ + "/first-stats.json";
  auto first = start_learner({"--set", "consumer.commit_interval_ms=100"}, first_stats);
  produce_events(originals);
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)));
  ASSERT_EQ(first->stop(), 0);  // commits everything it applied
  EXPECT_EQ(stats_number(first_stats, "remembered"), 0) << "a group's first learner has nothing to re-read";

  // Retries of 300 events consumed above, then 500 new ones.
  const int retries = 300;
  std::vector<std::string> keys, payloads;
  for (int i = 0; i < retries; ++i) {
    keys.push_back(originals[static_cast<size_t>(i)].user_id);
    payloads.push_back(encode_event(originals[static_cast<size_t>(i)]));
  }
  produce_with_kcat(keys, payloads);
  std::vector<Event> fresh = make_events(500, 200, 50, /*first_id=*/2000);
  produce_events(fresh);

  std::string stats = stats_file();
  auto second = start_learner({"--status-interval", "0.1"}, stats);
  ASSERT_TRUE(eventually(
      [&] { return stats_number(stats, "events") + stats_number(stats, "duplicates") == 500 + retries; },
      std::chrono::seconds(60)))
      << "events " << stats_number(stats, "events") << ", duplicates " << stats_number(stats, "duplicates");
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(30)))
      << "Redis holds " << events_in_redis() << " of " << expected_.events << " events";
  ASSERT_EQ(second->stop(), 0);

  EXPECT_EQ(stats_number(stats, "duplicates"), retries);
  EXPECT_EQ(stats_number(stats, "events"), 500);
  EXPECT_EQ(stats_number(stats, "remembered"), static_cast<double>(originals.size()))
      << "the second learner re-reads exactly what the first consumed";
  expect_exact_counters();
}

}  // namespace
}  // namespace streamrec::testing
