// Test support for `streamrec serve`: a real redis-server and the embedded
// broker for the whole suite, a `streamrec serve` child per test, and Redis
// written through feature_store's key names.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <optional>

#include "feature_store/redis_connection.h"
#include "feature_store/redis_keys.h"
#include "tests/serving/http_client.h"
#include "tests/support/servers.h"

namespace streamrec::testing {

inline constexpr const char* kToken = "test-token-5f2c";

class ServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    redis_ = new RedisServer();
    broker_ = new KafkaBroker(1, 3);
  }
  static void TearDownTestSuite() {
    delete redis_;
    delete broker_;
  }

  void SetUp() override {
    dir_ = make_scratch_dir("serve");
    redis_->cli("FLUSHALL");
    auto conn = RedisConnection::connect(redis_->url(), 5000);
    ASSERT_TRUE(conn.ok()) << conn.error().message;
    redis_conn_.emplace(std::move(conn).value());
  }
  void TearDown() override {
    serve_.reset();
    remove_scratch_dir_if_passed(dir_);
  }

  std::map<std::string, std::string> env() const {
    return {{"STREAMREC_KAFKA_BOOTSTRAP_SERVERS", broker_->bootstrap_servers()},
            {"STREAMREC_REDIS_URL", redis_->url()},
            {"STREAMREC_SERVING_AUTH_TOKEN", kToken}};
  }

  // Starts `streamrec serve` on a free port with env() plus `extra`; waits
  // until it printed its URL. Returns its port.
  int start_serve(std::map<std::string, std::string> extra = {}, std::vector<std::string> args = {}) {
    auto environment = env();
    for (auto& [k, v] : extra) environment[k] = v;
    std::vector<std::string> argv = {STREAMREC_BINARY, "serve", "--set", "serving.port=0"};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string out = dir_ + "/serve-" + std::to_string(serves_) + ".out";
    log_ = dir_ + "/serve-" + std::to_string(serves_++) + ".log";
    serve_ = std::make_unique<Subprocess>(argv, environment, out, log_);
    std::string url;
    bool up = eventually(
        [&] {
          std::ifstream in(out);
          return static_cast<bool>(std::getline(in, url)) && !url.empty();
        },
        std::chrono::seconds(20));
    if (!up) {
      ADD_FAILURE() << "streamrec serve did not start; see " << log_;
      return 0;
    }
    port_ = std::stoi(url.substr(url.rfind(':') + 1));
    return port_;
  }

  std::string serve_log() const {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  void redis(const std::vector<std::string>& args) {
    auto reply = redis_conn_->command(std::vector<std::string_view>(args.begin(), args.end()));
    ASSERT_TRUE(reply.ok()) << reply.error().message;
  }

  static std::string float32_bytes(const std::vector<float>& values) {
    std::string bytes(values.size() * 4, '\0');
    std::memcpy(bytes.data(), values.data(), bytes.size());  // x86: little-endian
    return bytes;
  }

  static inline RedisServer* redis_ = nullptr;
  static inline KafkaBroker* broker_ = nullptr;
  const RedisKeys keys_{"sr:"};
  std::optional<RedisConnection> redis_conn_;
  std::unique_ptr<Subprocess> serve_;
  std::string dir_, log_;
  int port_ = 0;
  int serves_ = 0;
};

}  // namespace streamrec::testing
