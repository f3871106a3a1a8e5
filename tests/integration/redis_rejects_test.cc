// Redis answers every effects write with an error (here: sr:pop is not a
// ZSET, so the script's ZMSCORE fails with WRONGTYPE; in the field: a Lua
// limit, OOM, a read-only replica). The learner retries, but says why at
// error level, commits nothing, and still ends when told to: by
// --stop-after-idle or by SIGTERM, within seconds, with exit status 1.
// Once Redis takes the writes again, every counter is exact.
#include <fstream>
#include <sstream>

#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class RedisRejectsTest : public PipelineTest {
 protected:
  std::string learner_log(int n) const { return dir_ + "/learn-" + std::to_string(n) + ".log"; }
  bool logged_rejection_as_error(int n) const {
    std::string log = read_file(learner_log(n));
    // An error line (spdlog's "<time> error <message>") with Redis's reason.
    size_t at = log.find(" error the sink failed the same way ");
    return at != std::string::npos && log.find("WRONGTYPE", at) != std::string::npos;
  }
};

TEST_F(RedisRejectsTest, StopAfterIdleEndsALearnerWhoseWritesRedisRejects) {
  ASSERT_EQ(redis_.cli("SET sr:pop not-a-zset"), "OK\n");
  auto learner = start_learner({"--stop-after-idle", "4", "--set", "redis.write_interval_ms=100"});
  produce_events(make_events(2000, 50, 20));
  // Four seconds without a success after the last message, then it gives up.
  EXPECT_EQ(learner->wait(std::chrono::seconds(60)), 1) << read_file(learner_log(0));
  EXPECT_TRUE(logged_rejection_as_error(0)) << read_file(learner_log(0));
  EXPECT_NE(read_file(learner_log(0)).find("gave up after"), std::string::npos);
  EXPECT_EQ(events_in_redis(), 0);
  EXPECT_EQ(redis_.cli("EXISTS sr:marks"), "0\n");
}

TEST_F(RedisRejectsTest, SigtermEndsALearnerWhoseWritesRedisRejectsAndAFixedRedisGetsEverything) {
  ASSERT_EQ(redis_.cli("SET sr:pop not-a-zset"), "OK\n");
  auto learner = start_learner({"--set", "redis.write_interval_ms=100"});
  produce_events(make_events(2000, 50, 20));
  ASSERT_TRUE(eventually([&] { return logged_rejection_as_error(0); }, std::chrono::seconds(60)))
      << read_file(learner_log(0));
  auto asked = std::chrono::steady_clock::now();
  EXPECT_EQ(learner->stop(std::chrono::seconds(15)), 1) << read_file(learner_log(0));
  EXPECT_LT(std::chrono::steady_clock::now() - asked, scaled(std::chrono::seconds(10)));
  EXPECT_NE(read_file(learner_log(0)).find("stopped while a batch was not durable"), std::string::npos);
  EXPECT_EQ(events_in_redis(), 0);

  // Nothing was committed: a learner on a mended Redis gets every event.
  ASSERT_EQ(redis_.cli("DEL sr:pop"), "1\n");
  auto again = start_learner({"--set", "redis.write_interval_ms=100"});
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)))
      << "Redis holds " << events_in_redis() << " of " << expected_.events << " events";
  expect_exact_counters();
  EXPECT_EQ(again->stop(), 0);
}

}  // namespace
}  // namespace streamrec::testing
