// The streamrec binary as a user meets it: the embedded broker works with an
// external client, and bad settings or arguments stop with a clear message.
#include <gtest/gtest.h>

#include "tests/support/servers.h"

namespace streamrec::testing {
namespace {

std::string streamrec(const std::string& args, int* exit_code) {
  return run_shell(std::string(STREAMREC_BINARY) + " " + args + " 2>&1", exit_code);
}

TEST(Cli, BrokerServesKafkaToKcatWithTheTopicsStreamrecNeeds) {
  KafkaBroker broker;
  int rc = -1;
  std::string metadata = run_shell("kcat -L -b " + broker.bootstrap_servers() + " 2>&1", &rc);
  ASSERT_EQ(rc, 0) << metadata;
  EXPECT_NE(metadata.find(" 3 brokers:"), std::string::npos) << metadata;
  EXPECT_NE(metadata.find("topic \"events\" with 6 partitions"), std::string::npos) << metadata;
  EXPECT_NE(metadata.find("topic \"items\" with 1 partitions"), std::string::npos) << metadata;
  EXPECT_NE(metadata.find("topic \"events.dlq\" with 1 partitions"), std::string::npos) << metadata;

  std::string sent = run_shell("printf 'k1\\thello\\n' | kcat -P -b " + broker.bootstrap_servers() +
                               " -t items -K '\\t' 2>&1", &rc);
  ASSERT_EQ(rc, 0) << sent;
  std::string got = run_shell("kcat -C -b " + broker.bootstrap_servers() + " -t items -e -q -f '%k=%s\\n'", &rc);
  EXPECT_EQ(got, "k1=hello\n");
}

TEST(Cli, BadSettingsStopWithExitStatus2AndNameTheKey) {
  struct {
    std::string args;
    std::string must_say;
  } cases[] = {
      {"learn --set redis.url=http://nope", "redis.url"},
      {"learn --set redis.url=redis://host:port/0", "bad port"},
      {"learn --set consumer.batch_max_ms=soon", "consumer.batch_max_ms"},
      {"learn --set no.such.key=1", "no.such.key"},
      {"config --set log.level=chatty", "log.level"},
      {"learn --config /nonexistent.yaml", "/nonexistent.yaml"},
      {"broker --brokers 0", "--brokers"},
      {"learn --no-such-flag", "--no-such-flag"},
      {"fly", "fly"},
  };
  for (auto& c : cases) {
    int rc = -1;
    std::string out = streamrec(c.args, &rc);
    EXPECT_EQ(rc, 2) << c.args << ": " << out;
    EXPECT_NE(out.find(c.must_say), std::string::npos) << c.args << ": " << out;
  }
}

TEST(Cli, EnvironmentOverridesTheFileAndSetOverridesTheEnvironment) {
  int rc = -1;
  std::string out = run_shell("STREAMREC_REDIS_PREFIX=env: " + std::string(STREAMREC_BINARY) + " config --config " +
                                  STREAMREC_SOURCE_DIR + "/configs/local.yaml --set redis.url=redis://flag:1/0 2>&1",
                              &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("redis.prefix: env:\n"), std::string::npos) << out;
  EXPECT_NE(out.find("redis.url: redis://flag:1/0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("consumer.session_timeout_ms: 6000\n"), std::string::npos) << out;  // from local.yaml
}

}  // namespace
}  // namespace streamrec::testing
