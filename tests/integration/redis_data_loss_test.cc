// Redis loses data under a running learner (FLUSHALL: as a restart without
// persistence, or a rollback, would): the offset marks are then behind what
// Redis acknowledged and behind Kafka's committed offsets. The learner
// detects it and stops loudly (exit status 3, a message naming the mark),
// committing nothing more; a learner started again on that Redis detects
// it too (the group has offsets committed, Redis has no marks) instead of
// going on with counters that silently lack the lost effects.
#include <fstream>

#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

std::string read_log(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST_F(PipelineTest, RedisLosingDataMidStreamStopsTheLearnerLoudlyAndARestartToo) {
  auto learner = start_learner({"--set", "redis.write_interval_ms=100", "--set", "consumer.commit_interval_ms=200"});
  produce_events(make_events(10000, 500, 100));
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)));
  ASSERT_TRUE(eventually([&] { return stats_number(stats_file(), "commits") > 0; }, std::chrono::seconds(10)));

  ASSERT_EQ(redis_.cli("FLUSHALL"), "OK\n");
  produce_events(make_events(2000, 500, 100, /*first_id=*/10000));
  EXPECT_EQ(learner->wait(std::chrono::seconds(30)), 3) << "the learner went on after Redis lost data";
  const std::string log = read_log(dir_ + "/learn-0.log");
  EXPECT_NE(log.find("redis lost data: the offset mark of "), std::string::npos) << log.substr(log.size() > 3000 ? log.size() - 3000 : 0);
  EXPECT_NE(log.find("is gone, but Redis held "), std::string::npos);
  // No counter was written after the loss, as if the rest were there.
  EXPECT_EQ(events_in_redis(), 0);

  auto again = start_learner();
  EXPECT_EQ(again->wait(std::chrono::seconds(40)), 3) << "a restarted learner went on over the lost data";
  EXPECT_NE(read_log(dir_ + "/learn-1.log").find("redis lost data: the offset mark of "), std::string::npos);
}

}  // namespace
}  // namespace streamrec::testing
