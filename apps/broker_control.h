// Faults for a running `streamrec broker`, from a script: commands written
// one a line to a named pipe (`streamrec broker --control FIFO`), e.g.
//
//   echo "down 1" > FIFO      # broker 1 drops its connections, refuses new ones
//   echo "up 1" > FIFO
//   echo "leader events 0 2" > FIFO    # topic, partition, broker id
//   echo "coordinator streamrec 3" > FIFO  # consumer group, broker id
//
// These are EmbeddedBroker's fault calls (core/embedded_broker.h), which the
// in-process tests use, made reachable for bench/soak.sh.
//
// Threads: one thread owns a BrokerControl and calls poll(). Ownership: it
// creates the FIFO (or reuses an existing one) and removes it when
// destroyed; the broker must outlive it. Errors: a FIFO that cannot be made
// or opened is an Error from open(); a command that does not parse or that
// the mock refuses is logged as a warning and changes nothing: the broker
// goes on.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/embedded_broker.h"
#include "core/status.h"

namespace streamrec {

// Applies one control command to `broker`; an Error says what was wrong
// with it ("unknown command", a bad number) or what the mock refused.
Status apply_broker_command(EmbeddedBroker& broker, std::string_view line);

class BrokerControl {
 public:
  static Result<std::unique_ptr<BrokerControl>> open(const std::string& fifo_path, EmbeddedBroker& broker);
  ~BrokerControl();
  BrokerControl(const BrokerControl&) = delete;
  BrokerControl& operator=(const BrokerControl&) = delete;

  // Waits up to `timeout_ms` for commands and applies every complete line
  // that has arrived, logging each with its outcome.
  void poll(int timeout_ms);

 private:
  BrokerControl(std::string path, int fd, EmbeddedBroker& broker) : path_(std::move(path)), fd_(fd), broker_(broker) {}

  std::string path_;
  int fd_;
  EmbeddedBroker& broker_;
  std::string pending_;  // a line not complete yet
};

}  // namespace streamrec
