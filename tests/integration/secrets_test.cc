// Secrets stay secret: `streamrec config` redacts the Redis password and
// every secret librdkafka property, and a learner that logs in to Redis as
// an ACL user with a percent-encoded password counts every event while its
// log never shows the password. Unknown STREAMREC_* variables (as a
// Kubernetes Service injects) are warnings naming them, not fatal.
#include <cstdlib>
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

TEST(Secrets, ConfigRedactsPasswordsAndWarnsAboutUnknownEnvironmentVariables) {
  int rc = -1;
  std::string out = run_shell("STREAMREC_PORT=tcp://10.0.0.7:6379 " + std::string(STREAMREC_BINARY) +
                                  " config --set redis.url=redis://alice:s3cret@cache:6380/2"
                                  " --set kafka.properties.sasl.password=hunter2"
                                  " --set kafka.properties.ssl.key.password=swordfish"
                                  " --set kafka.properties.socket.timeout.ms=30000 2>&1",
                              &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("redis.url: redis://alice:***@cache:6380/2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("kafka.properties.sasl.password: ***\n"), std::string::npos) << out;
  EXPECT_NE(out.find("kafka.properties.ssl.key.password: ***\n"), std::string::npos) << out;
  EXPECT_NE(out.find("kafka.properties.socket.timeout.ms: 30000\n"), std::string::npos) << out;
  for (const char* secret : {"s3cret", "hunter2", "swordfish", "10.0.0.7"})
    EXPECT_EQ(out.find(secret), std::string::npos) << secret << " in:\n" << out;
  EXPECT_NE(out.find("warning environment variable STREAMREC_PORT names no setting"), std::string::npos) << out;

  // A URL that does not parse is refused without repeating the password.
  out = run_shell(std::string(STREAMREC_BINARY) + " learn --set 'redis.url=redis://alice:s3cret%zz@cache:1/0' 2>&1",
                  &rc);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("redis.url"), std::string::npos) << out;
  EXPECT_EQ(out.find("s3cret"), std::string::npos) << out;
}

TEST_F(PipelineTest, ALearnerLogsInWithAPercentEncodedPasswordAndNeverLogsIt) {
  const std::string password = "p@ss:w/rd%";  // every character a URL must escape
  ASSERT_EQ(redis_.cli("ACL SETUSER streamrec on '>" + password + "' '~*' '&*' +@all"), "OK\n");
  const std::string url = "redis://streamrec:p%40ss%3Aw%2Frd%25@127.0.0.1:" + std::to_string(redis_.port()) + "/0";
  ::setenv("STREAMREC_PORT", "tcp://10.0.0.7:6379", 1);  // inherited by the learner
  auto learner = start_learner({"--set", "redis.url=" + url});
  ::unsetenv("STREAMREC_PORT");
  produce_events(make_events(3000, 100, 40));
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)))
      << "Redis holds " << events_in_redis() << " of " << expected_.events << " events";
  expect_exact_counters();
  EXPECT_EQ(learner->stop(), 0);
  std::string log = read_file(dir_ + "/learn-0.log");
  EXPECT_NE(log.find("redis://streamrec:***@127.0.0.1"), std::string::npos) << log;
  EXPECT_NE(log.find("STREAMREC_PORT"), std::string::npos) << log;
  for (const char* secret : {"p@ss", "p%40ss", "w/rd"}) EXPECT_EQ(log.find(secret), std::string::npos) << secret;
}

}  // namespace
}  // namespace streamrec::testing
