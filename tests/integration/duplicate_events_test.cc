// A producer retry is the same event (same event_id) at a new offset. The
// learner drops it, also when the original was consumed by a learner that
// has stopped since: an assigned partition is first re-read before its start
// to remember the ids consumed there.
#include <sstream>

#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

// One message of the events topic, as kcat reads it.
struct ReadBack {
  int partition = 0;
  int64_t offset = 0;
  std::string key, event_id;
};

// Every message of the events topic, each partition in offset order.
std::vector<ReadBack> read_events_topic(const std::string& bootstrap_servers) {
  std::vector<ReadBack> read;
  std::istringstream lines(run_shell("kcat -C -e -q -b " + bootstrap_servers +
                                     " -t events -f '%p %o %k %s\n' 2>/dev/null"));
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    ReadBack m;
    std::string payload;
    fields >> m.partition >> m.offset >> m.key >> payload;
    size_t at = payload.find("\"event_id\":\"");
    EXPECT_NE(at, std::string::npos) << line;
    if (at != std::string::npos) m.event_id = payload.substr(at + 12, payload.find('"', at + 12) - at - 12);
    read.push_back(std::move(m));
  }
  return read;
}

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

// With a window of 600 ids over the 6 partitions, a restarted learner
// re-reads the last 100 offsets of each: a retry of a partition's newest
// event is dropped, one of its oldest is not (it is as far back as the
// window reaches without a restart either), and is counted again.
TEST_F(PipelineTest, TheReReadReachesBackDedupeWindowOverPartitionsOffsets) {
  const std::vector<std::string> small_window = {"--set", "consumer.dedupe_window=600", "--set",
                                                 "consumer.commit_interval_ms=100"};
  std::vector<Event> originals = make_events(3000, 300, 50);
  std::map<std::string, Event> by_id;
  for (const Event& e : originals) by_id[e.event_id] = e;
  auto first = start_learner(small_window, dir_ + "/first-stats.json");
  produce_events(originals);
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)));
  ASSERT_EQ(first->stop(), 0);

  // Where each event landed.
  std::map<int, std::vector<std::string>> ids_by_partition;  // in offset order
  for (const ReadBack& m : read_events_topic(broker_.bootstrap_servers())) {
    ASSERT_EQ(static_cast<int64_t>(ids_by_partition[m.partition].size()), m.offset) << m.event_id;
    ids_by_partition[m.partition].push_back(m.event_id);
  }
  ASSERT_EQ(ids_by_partition.size(), 6u);

  std::vector<std::string> keys, payloads;
  for (auto& [partition, ids] : ids_by_partition) {
    ASSERT_GT(ids.size(), 100u) << "partition " << partition << " is shorter than the re-read";
    for (const std::string& id : {ids.back(), ids.front()}) {  // newest: dropped; oldest: counted again
      keys.push_back(by_id.at(id).user_id);
      payloads.push_back(encode_event(by_id.at(id)));
    }
    expected_.add(by_id.at(ids.front()));
  }
  produce_with_kcat(keys, payloads);

  std::string stats = stats_file();
  auto second = start_learner([&] {
    auto args = small_window;
    args.insert(args.end(), {"--status-interval", "0.1"});
    return args;
  }(), stats);
  ASSERT_TRUE(eventually(
      [&] { return stats_number(stats, "events") + stats_number(stats, "duplicates") == 12; },
      std::chrono::seconds(60)));
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(30)))
      << "Redis holds " << events_in_redis() << " of " << expected_.events << " events";
  ASSERT_EQ(second->stop(), 0);

  EXPECT_EQ(stats_number(stats, "remembered"), 600) << "100 offsets of each of the 6 partitions";
  EXPECT_EQ(stats_number(stats, "duplicates"), 6);
  EXPECT_EQ(stats_number(stats, "events"), 6);
  expect_exact_counters();
}

// The window is per partition: a retry is dropped when its original is
// among the last dedupe_window / P events of its partition, however many
// events of other partitions the learner consumed in between (a learner
// catching up reads one partition's backlog in large chunks, and a window
// shared by all partitions forgot originals a second old).
TEST_F(PipelineTest, ARetryIsDroppedHoweverManyEventsOfOtherPartitionsCameBetween) {
  auto learner = start_learner({"--set", "consumer.dedupe_window=600", "--status-interval", "0.1"});
  std::vector<Event> originals = make_events(600, 60, 50);
  std::map<std::string, Event> by_id;
  for (const Event& e : originals) by_id[e.event_id] = e;
  produce_events(originals);
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)));

  // Each user's partition, and partition 0's newest event.
  std::map<std::string, int> partition_of_user;
  std::string newest_of_partition0;
  int64_t in_partition0 = 0;
  for (const ReadBack& m : read_events_topic(broker_.bootstrap_servers())) {
    partition_of_user[m.key] = m.partition;
    if (m.partition == 0) {
      ++in_partition0;
      newest_of_partition0 = m.event_id;
    }
  }
  ASSERT_GT(in_partition0, 0) << "no user of the test lands in partition 0";

  // 2000 events of other partitions: more than the whole window of 600.
  std::vector<Event> others;
  for (const Event& e : make_events(4000, 60, 50, /*first_id=*/1000))
    if (partition_of_user.at(e.user_id) != 0 && others.size() < 2000) others.push_back(e);
  ASSERT_EQ(others.size(), 2000u);
  produce_events(others);
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)));

  const Event& original = by_id.at(newest_of_partition0);
  produce_with_kcat({original.user_id}, {encode_event(original)});
  ASSERT_TRUE(eventually([&] { return stats_number(stats_file(), "duplicates") + stats_number(stats_file(), "events") ==
                                      static_cast<double>(originals.size() + others.size() + 1); },
                         std::chrono::seconds(30)))
      << "events " << stats_number(stats_file(), "events") << ", duplicates " << stats_number(stats_file(), "duplicates");
  ASSERT_EQ(learner->stop(), 0);
  EXPECT_EQ(stats_number(stats_file(), "duplicates"), 1) << "the retry of " << original.event_id;
  expect_exact_counters();
}

}  // namespace
}  // namespace streamrec::testing
