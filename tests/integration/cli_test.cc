// The streamrec binary as a user meets it: the embedded broker works with an
// external client, and bad settings or arguments stop with a clear message.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

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

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// bench/soak.sh takes the broker down and back through --control.
TEST(Cli, BrokerControlTakesTheBrokerDownAndBringsItBack) {
  const std::string dir = make_scratch_dir("broker-control");
  const std::string fifo = dir + "/control", log = dir + "/broker.log", address = dir + "/bootstrap";
  Subprocess broker({STREAMREC_BINARY, "broker", "--brokers", "1", "--control", fifo, "--address-file", address}, {},
                    dir + "/stdout", log);
  ASSERT_TRUE(eventually([&] { return !read_file(address).empty(); }, std::chrono::seconds(20))) << read_file(log);
  std::string bootstrap = read_file(address);
  bootstrap.pop_back();  // the newline
  int rc = -1;
  auto metadata = [&] { return run_shell("kcat -L -m 2 -b " + bootstrap + " 2>&1", &rc); };
  std::string out = metadata();
  ASSERT_EQ(rc, 0) << out;

  auto command = [&](const std::string& line, const std::string& logged) {
    run_shell("echo '" + line + "' > " + fifo);
    return eventually([&] { return read_file(log).find(logged) != std::string::npos; }, std::chrono::seconds(10));
  };
  ASSERT_TRUE(command("down 1", "control: down 1: done")) << read_file(log);
  out = metadata();
  EXPECT_NE(rc, 0) << "the broker answered while down: " << out;

  // A command that does not parse, or that the mock refuses, changes nothing.
  ASSERT_TRUE(command("sideways 1", "unknown command")) << read_file(log);
  ASSERT_TRUE(command("up 7", "control: up 7: broker: cannot bring broker 7 up")) << read_file(log);
  EXPECT_TRUE(broker.running());

  ASSERT_TRUE(command("up 1", "control: up 1: done")) << read_file(log);
  EXPECT_TRUE(eventually([&] { return (metadata(), rc == 0); }, std::chrono::seconds(10))) << metadata();
  EXPECT_NE(metadata().find("topic \"events\" with 6 partitions"), std::string::npos);

  EXPECT_EQ(broker.stop(), 0);
  EXPECT_FALSE(std::filesystem::exists(fifo)) << "the named pipe was left behind";
  remove_scratch_dir_if_passed(dir);
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
