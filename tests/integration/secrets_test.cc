// Secrets stay secret: `streamrec config` redacts the Redis password and
// every secret librdkafka property, and a learner that logs in to Redis as
// an ACL user with a percent-encoded password counts every event while its
// log never shows the password. Unknown STREAMREC_* variables (as a
// Kubernetes Service injects) are warnings naming them, not fatal. The
// least-privilege ACL user of docs/operations.md (only sr:* keys, only the
// commands streamrec sends) is all a learner needs, with the default user
// disabled.
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

// docs/operations.md, "A least-privilege Redis user": keep the two in step.
const char* const kLeastPrivilegeUser =
    "ACL SETUSER streamrec on '>learner-pw' resetkeys '~sr:*' resetchannels -@all "
    "+auth +hello +ping +select +multi +exec +del +hdel +zadd +hset +hget +hmget +zmscore +zcard +zremrangebyrank +lpush +ltrim +evalsha '+script|load'";

TEST_F(PipelineTest, ALearnerNeedsOnlyTheLeastPrivilegeUserWithTheDefaultUserDisabled) {
  // The fixture's own connection, which reads the counters, logged in as the
  // default user before it was disabled: Redis keeps such connections.
  ASSERT_EQ(redis_.cli(kLeastPrivilegeUser), "OK\n");
  ASSERT_EQ(redis_.cli("ACL SETUSER admin on '>admin-pw' '~*' '&*' +@all"), "OK\n");
  ASSERT_EQ(redis_.cli("ACL SETUSER default off"), "OK\n");
  const std::string admin_cli = "redis-cli -p " + std::to_string(redis_.port()) + " --user admin --pass admin-pw ";
  int rc = -1;
  ASSERT_EQ(run_shell("redis-cli -p " + std::to_string(redis_.port()) + " PING 2>&1", &rc).find("PONG"),
            std::string::npos)
      << "the default user must be off";
  std::string users = run_shell(admin_cli + "ACL LIST 2>/dev/null", &rc);
  ASSERT_NE(users.find("user default off"), std::string::npos) << users;

  const std::string url = "redis://streamrec:learner-pw@127.0.0.1:" + std::to_string(redis_.port()) + "/0";
  auto learner = start_learner({"--set", "redis.url=" + url});
  std::vector<std::string> item_ids, items;  // a catalog, so that clicks lead to rankings
  for (int i = 0; i < 40; ++i) {
    item_ids.push_back("i" + std::to_string(i));
    items.push_back(R"({"item_id":"i)" + std::to_string(i) + R"(","category":"c)" + std::to_string(i % 4) +
                    R"(","price":5,"available":true,"ts":1})");
  }
  produce_with_kcat(item_ids, items, "items");
  produce_events(make_events(3000, 100, 40));
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)))
      << "Redis holds " << events_in_redis() << " of " << expected_.events << " events";
  expect_exact_counters();
  // Rankings, popularity and the model summary were written too.
  EXPECT_TRUE(eventually(
      [&] { return !run_shell(admin_cli + "--scan --pattern 'sr:{u:*}:rec' 2>/dev/null", &rc).empty(); },
      std::chrono::seconds(30)));
  EXPECT_TRUE(eventually([&] { return run_shell(admin_cli + "EXISTS sr:model 2>/dev/null", &rc) == "1\n"; },
                         std::chrono::seconds(30)));
  EXPECT_NE(run_shell(admin_cli + "ZCARD sr:pop 2>/dev/null", &rc), "0\n");
  // And the stats samples of the dashboard (one every --status-interval, 5 s).
  EXPECT_TRUE(eventually([&] { return run_shell(admin_cli + "EXISTS sr:stats 2>/dev/null", &rc) == "1\n"; },
                         std::chrono::seconds(30)));
  EXPECT_EQ(learner->stop(), 0);
  std::string log = read_file(dir_ + "/learn-0.log");
  EXPECT_EQ(log.find("NOPERM"), std::string::npos) << log;
  EXPECT_EQ(log.find("[error]"), std::string::npos) << log;

  // And the user can do nothing else: no other keys, no other commands.
  const std::string learner_cli =
      "redis-cli -p " + std::to_string(redis_.port()) + " --user streamrec --pass learner-pw ";
  EXPECT_NE(run_shell(learner_cli + "SET other:key 1 2>/dev/null", &rc).find("NOPERM"), std::string::npos);
  EXPECT_NE(run_shell(learner_cli + "FLUSHALL 2>/dev/null", &rc).find("NOPERM"), std::string::npos);
  EXPECT_NE(run_shell(learner_cli + "KEYS '*' 2>/dev/null", &rc).find("NOPERM"), std::string::npos);
}

}  // namespace
}  // namespace streamrec::testing
