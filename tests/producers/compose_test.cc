// docker-compose.yml and configs/docker.yaml: the compose file validates
// (docker-compose config needs no Docker engine), and the settings the
// services run with point at the compose services.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace {

// Runs `command` through the shell; returns (exit status, stdout + stderr).
std::pair<int, std::string> run(const std::string& command) {
  std::FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

const std::string kSource = STREAMREC_SOURCE_DIR;

TEST(Compose, FileValidatesWithDockerCompose) {
  auto [status, out] = run("docker-compose -f " + kSource + "/docker-compose.yml config -q");
  EXPECT_EQ(status, 0) << out;
}

TEST(Compose, ServicesGetTheKafkaTopicsAndDockerConfig) {
  auto [status, out] = run("docker-compose -f " + kSource + "/docker-compose.yml config");
  ASSERT_EQ(status, 0) << out;
  for (const char* expected : {"apache/kafka", "redis:7", "KAFKA_PROCESS_ROLES: broker,controller",
                               "KAFKA_AUTO_CREATE_TOPICS_ENABLE: \"false\"", "--topic events --partitions 6",
                               "--topic items", "--topic events.dlq", "/app/configs/docker.yaml"}) {
    EXPECT_NE(out.find(expected), std::string::npos) << "missing: " << expected << "\n" << out;
  }
}

TEST(Compose, DockerConfigLoadsAndPointsAtTheComposeServices) {
  auto [status, out] = run(std::string(STREAMREC_BINARY) + " config --config " + kSource + "/configs/docker.yaml");
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("kafka.bootstrap_servers: kafka:9092\n"), std::string::npos) << out;
  EXPECT_NE(out.find("redis.url: redis://redis:6379/0\n"), std::string::npos) << out;
}

}  // namespace
