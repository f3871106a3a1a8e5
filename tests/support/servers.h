// Test support: the real servers streamrec talks to, started on 127.0.0.1 by
// a test and stopped when the object goes away.
//
//   RedisServer    Debian's redis-server on a free port, no persistence
//                  (or, asked for, an append-only file); it can be killed
//                  and started again on the same port and directory.
//   KafkaBroker    `streamrec broker` (librdkafka's mock cluster), a real
//                  Kafka-protocol broker that kcat can talk to; or the same
//                  cluster in the test's own process (core/embedded_broker.h),
//                  whose brokers the test can take down and bring back.
//
// Both throw std::runtime_error if the server does not come up; each owns a
// scratch directory for its logs, removed at the end unless a test failed.
#pragma once

#include <memory>
#include <string>

#include "tests/support/subprocess.h"

namespace streamrec {
class EmbeddedBroker;
}

namespace streamrec::testing {

// A fresh scratch directory under $TMPDIR (or /tmp), unique per call.
std::string make_scratch_dir(const std::string& name);
// Removes `dir` unless the current test has failed (its logs then stay).
void remove_scratch_dir_if_passed(const std::string& dir);

struct RedisOptions {
  bool append_only = false;  // AOF on, fsynced every second (as docker-compose.yml runs it)
};

class RedisServer {
 public:
  explicit RedisServer(RedisOptions options = {});
  ~RedisServer();
  // SIGKILL (a crash: nothing is saved on the way out), or SHUTDOWN NOSAVE
  // when `clean` (the AOF is flushed and fsynced first). Waits for the exit.
  void stop(bool clean = false);
  // Starts it again on the same port and directory (reading its AOF, if
  // any); throws std::runtime_error if it does not answer PING in 10 s.
  void start();
  bool running() const { return process_ != nullptr; }
  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }
  // Runs redis-cli against this server; returns its output.
  std::string cli(const std::string& args) const;

 private:
  bool launch();

  RedisOptions options_;
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<Subprocess> process_;
};

struct KafkaOptions {
  int brokers = 3;
  int events_partitions = 6;
  bool in_process = false;  // in this process, with embedded() for faults
};

class KafkaBroker {
 public:
  explicit KafkaBroker(int brokers = 3, int events_partitions = 6)
      : KafkaBroker(KafkaOptions{brokers, events_partitions}) {}
  explicit KafkaBroker(KafkaOptions options);
  ~KafkaBroker();
  const std::string& bootstrap_servers() const { return bootstrap_; }
  // The cluster itself when in_process (faults: brokers down and up,
  // leaders, coordinators, request errors); nullptr otherwise.
  EmbeddedBroker* embedded() const { return embedded_.get(); }

 private:
  std::unique_ptr<EmbeddedBroker> embedded_;
  std::string dir_;
  std::string bootstrap_;
  std::unique_ptr<Subprocess> process_;
};

}  // namespace streamrec::testing
