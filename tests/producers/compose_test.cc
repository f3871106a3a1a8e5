// docker-compose.yml, configs/docker.yaml and the Dockerfile's runtime
// stage: the compose file validates (docker-compose config needs no Docker
// engine), Redis is password-protected and persistent, the learner's state is
// on a volume, the settings point at the compose services, and the runtime
// image's binary runs with only the libraries scripts/runtime-libs.sh copies.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
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

TEST(Compose, ServeIsPublishedOnTheHostsLoopbackOnlyWithItsSecretsFromTheEnvironment) {
  auto [status, out] = run("STREAMREC_REDIS_PASSWORD=pw-from-env STREAMREC_SERVING_AUTH_TOKEN=token-from-env "
                           "docker-compose -f " + kSource + "/docker-compose.yml config");
  ASSERT_EQ(status, 0) << out;
  const size_t serve = out.find("\n  serve:\n");
  ASSERT_NE(serve, std::string::npos) << out;
  size_t end = serve + 1;  // the next line indented by two spaces only: the next service
  while ((end = out.find("\n  ", end + 1)) != std::string::npos && out[end + 3] == ' ') {
  }
  const std::string service = out.substr(serve, end == std::string::npos ? std::string::npos : end - serve);
  for (const char* expected : {"- serve", "serving.listen=0.0.0.0", "127.0.0.1:8080:8080",
                               "STREAMREC_SERVING_AUTH_TOKEN: token-from-env",
                               "STREAMREC_REDIS_URL: redis://:pw-from-env@redis:6379/0"}) {
    EXPECT_NE(service.find(expected), std::string::npos) << "missing: " << expected << "\n" << service;
  }
}

TEST(Compose, DockerConfigLoadsAndPointsAtTheComposeServices) {
  auto [status, out] = run(std::string(STREAMREC_BINARY) + " config --config " + kSource + "/configs/docker.yaml");
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("kafka.bootstrap_servers: kafka:9092\n"), std::string::npos) << out;
  EXPECT_NE(out.find("redis.url: redis://redis:6379/0\n"), std::string::npos) << out;
}

TEST(Compose, RedisNeedsAPasswordKeepsAnAppendOnlyFileAndTheStateIsOnVolumes) {
  auto [status, out] = run("STREAMREC_REDIS_PASSWORD=pw-from-env docker-compose -f " + kSource +
                           "/docker-compose.yml config");
  ASSERT_EQ(status, 0) << out;
  for (const char* expected : {"--requirepass \"$$REDIS_PASSWORD\"", "REDIS_PASSWORD: pw-from-env",
                               "--appendonly yes", "redis-data:/data", "learner-state:/var/lib/streamrec",
                               "STREAMREC_REDIS_URL: redis://:pw-from-env@redis:6379/0"}) {
    EXPECT_NE(out.find(expected), std::string::npos) << "missing: " << expected << "\n" << out;
  }
}

TEST(Compose, TheLearnersPasswordComesFromTheEnvironmentAndIsNeverPrinted) {
  auto [status, out] = run("STREAMREC_REDIS_URL='redis://:pw-from-env@redis:6379/0' " + std::string(STREAMREC_BINARY) +
                           " config --config " + kSource + "/configs/docker.yaml");
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("redis.url: redis://:***@redis:6379/0\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("pw-from-env"), std::string::npos) << out;
  EXPECT_NE(out.find("checkpoint.path: /var/lib/streamrec/learn.ckpt\n"), std::string::npos) << out;
}

// The runtime stage holds the binary and what runtime-libs.sh copies, on a
// base that has only the C runtime: the binary must start with exactly that.
TEST(RuntimeImage, TheBinaryRunsWithOnlyTheCopiedLibrariesAndTheCRuntime) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("streamrec-runtime-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto [status, out] = run(kSource + "/scripts/runtime-libs.sh " + STREAMREC_BINARY + " /usr/local/bin/streamrec " +
                           dir.string());
  ASSERT_EQ(status, 0) << out;
  fs::path libs = dir / "lib/x86_64-linux-gnu";
  EXPECT_TRUE(fs::exists(dir / "usr/local/bin/streamrec"));
  EXPECT_TRUE(fs::exists(libs / "librdkafka.so.1"));
  EXPECT_TRUE(fs::exists(libs / "libhiredis.so.0.14"));
  EXPECT_FALSE(fs::exists(libs / "libc.so.6")) << "the C runtime comes from the base image";

  const std::string loader = "env -i /lib64/ld-linux-x86-64.so.2 --inhibit-cache --library-path " + libs.string();
  const std::string binary = (dir / "usr/local/bin/streamrec").string();
  // The loader falls back to this machine's /lib for anything not in that
  // folder, so ask it where each library came from: all but the C runtime
  // (the base image's) from the copied ones.
  auto [trace_status, trace] = run(loader + " --list " + binary);
  ASSERT_EQ(trace_status, 0) << trace;
  std::istringstream lines(trace);
  int resolved = 0;
  for (std::string line; std::getline(lines, line);) {
    size_t arrow = line.find("=> /");
    if (arrow == std::string::npos) continue;
    if (line.find("libc.so.6") != std::string::npos || line.find("libm.so.6") != std::string::npos) continue;
    ++resolved;
    EXPECT_EQ(line.find(dir.string(), arrow), arrow + 3) << "loaded from outside the image: " << line;
  }
  EXPECT_GE(resolved, 8) << trace;
  auto [run_status, help] = run(loader + " " + binary + " --help");
  EXPECT_EQ(run_status, 0) << help;
  EXPECT_NE(help.find("learn"), std::string::npos) << help;
  fs::remove_all(dir);
}

TEST(RuntimeImage, RuntimeLibsNamesAMissingBinary) {
  auto [status, out] = run(kSource + "/scripts/runtime-libs.sh /nonexistent/streamrec /usr/local/bin/streamrec /tmp/x");
  EXPECT_EQ(status, 2);
  EXPECT_NE(out.find("/nonexistent/streamrec: not an executable"), std::string::npos) << out;
}

}  // namespace
