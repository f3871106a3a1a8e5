// Test support: a child process owned by RAII. The destructor kills it
// (SIGKILL) and reaps it, so a failing test never leaves a server behind.
// Not thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace streamrec::testing {

class Subprocess {
 public:
  // Starts argv[0] (searched in PATH) with `env` added to this process's
  // environment. stdout goes to `stdout_path` (empty: inherited), stderr to
  // `stderr_path` (empty: inherited).
  Subprocess(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
             std::string stdout_path = "", std::string stderr_path = "");
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // Waits for exit up to `timeout`; returns the exit status (128+signal if
  // killed), or -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  // SIGTERM, then SIGKILL after `grace`; returns the exit status.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

// Runs a shell command to completion; returns its stdout. `exit_code` gets
// the exit status when given.
std::string run_shell(const std::string& command, int* exit_code = nullptr);

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();

// Polls `condition` every 20 ms until it is true or `timeout` passes.
template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    struct timespec ts{0, 20 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  return condition();
}

}  // namespace streamrec::testing
