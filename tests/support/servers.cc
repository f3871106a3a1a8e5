#include "tests/support/servers.h"

#include "core/embedded_broker.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace streamrec::testing {

std::string make_scratch_dir(const std::string& name) {
  static std::atomic<int> counter{0};
  const char* tmp = std::getenv("TMPDIR");
  std::filesystem::path dir = std::filesystem::path(tmp ? tmp : "/tmp") /
                              ("streamrec-test-" + std::to_string(getpid()) + "-" + name + "-" +
                               std::to_string(counter++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

void remove_scratch_dir_if_passed(const std::string& dir) {
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(dir);
}

RedisServer::~RedisServer() {
  process_.reset();
  remove_scratch_dir_if_passed(dir_);
}

KafkaBroker::~KafkaBroker() {
  process_.reset();
  embedded_.reset();
  remove_scratch_dir_if_passed(dir_);
}

RedisServer::RedisServer(RedisOptions options) : options_(options) {
  dir_ = make_scratch_dir("redis");
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = free_port();
    if (launch()) return;
    process_.reset();  // port taken in the meantime: try another
  }
  throw std::runtime_error("redis-server did not start; see " + dir_ + "/redis.log");
}

bool RedisServer::launch() {
  process_ = std::make_unique<Subprocess>(std::vector<std::string>{
      "redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "", "--appendonly",
      options_.append_only ? "yes" : "no", "--appendfsync", "everysec", "--dir", dir_, "--logfile",
      dir_ + "/redis.log", "--enable-debug-command", "local"});
  return eventually([&] { return process_->running() && cli("PING") == "PONG\n"; }, std::chrono::seconds(10));
}

void RedisServer::stop(bool clean) {
  if (!process_) return;
  if (clean) cli("SHUTDOWN NOSAVE");
  else process_->signal(SIGKILL);
  process_->wait(std::chrono::seconds(10));
  process_.reset();
}

void RedisServer::start() {
  if (process_) return;
  if (!launch()) throw std::runtime_error("redis-server did not start again; see " + dir_ + "/redis.log");
}

std::string RedisServer::cli(const std::string& args) const {
  return run_shell("redis-cli -p " + std::to_string(port_) + " " + args + " 2>&1");
}

KafkaBroker::KafkaBroker(KafkaOptions options) {
  dir_ = make_scratch_dir("broker");
  const int brokers = options.brokers, events_partitions = options.events_partitions;
  if (options.in_process) {
    auto cluster = EmbeddedBroker::start(brokers, {{"events", events_partitions}, {"items", 1}, {"events.dlq", 1}});
    if (!cluster.ok()) throw std::runtime_error(cluster.error().message);
    embedded_ = std::make_unique<EmbeddedBroker>(std::move(cluster).value());
    bootstrap_ = embedded_->bootstrap_servers();
    return;
  }
  std::string address_file = dir_ + "/bootstrap";
  process_ = std::make_unique<Subprocess>(
      std::vector<std::string>{STREAMREC_BINARY, "broker", "--brokers", std::to_string(brokers),
                               "--events-partitions", std::to_string(events_partitions), "--address-file",
                               address_file},
      std::map<std::string, std::string>{}, dir_ + "/stdout", dir_ + "/broker.log");
  bool up = eventually(
      [&] {
        std::ifstream in(address_file);
        return static_cast<bool>(std::getline(in, bootstrap_)) && !bootstrap_.empty();
      },
      std::chrono::seconds(20));
  if (!up) throw std::runtime_error("streamrec broker did not start; see " + dir_ + "/broker.log");
}

}  // namespace streamrec::testing
