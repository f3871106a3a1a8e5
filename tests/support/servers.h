// Test support: the real servers streamrec talks to, started on 127.0.0.1 by
// a test and stopped when the object goes away.
//
//   RedisServer    Debian's redis-server on a free port, no persistence.
//   KafkaBroker    `streamrec broker` (librdkafka's mock cluster), a real
//                  Kafka-protocol broker that kcat can talk to.
//
// Both throw std::runtime_error if the server does not come up; each owns a
// scratch directory for its logs, removed at the end unless a test failed.
#pragma once

#include <memory>
#include <string>

#include "tests/support/subprocess.h"

namespace streamrec::testing {

// A fresh scratch directory under $TMPDIR (or /tmp), unique per call.
std::string make_scratch_dir(const std::string& name);
// Removes `dir` unless the current test has failed (its logs then stay).
void remove_scratch_dir_if_passed(const std::string& dir);

class RedisServer {
 public:
  RedisServer();
  ~RedisServer();
  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }
  // Runs redis-cli against this server; returns its output.
  std::string cli(const std::string& args) const;

 private:
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<Subprocess> process_;
};

class KafkaBroker {
 public:
  explicit KafkaBroker(int brokers = 3, int events_partitions = 6);
  ~KafkaBroker();
  const std::string& bootstrap_servers() const { return bootstrap_; }

 private:
  std::string dir_;
  std::string bootstrap_;
  std::unique_ptr<Subprocess> process_;
};

}  // namespace streamrec::testing
