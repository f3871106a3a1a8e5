// Test support: a child process owned by RAII. The destructor kills it
// (SIGKILL) and reaps it, so a failing test never leaves a server behind;
// a test process that dies without running destructors (a sanitizer report,
// a crash) takes its children with it (they get SIGKILL when it exits).
// Not thread-safe; a Subprocess is started and owned by one thread, which
// must outlive it (the exit signal is tied to the starting thread).
//
// Every wait here (eventually, wait, stop) is multiplied by time_scale():
// an instrumented build (scripts/test-sanitize.sh) runs its children several
// times slower, and a test's bounds say "long enough on a plain build".
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace streamrec::testing {

// The factor every test-support wait is multiplied by: the environment's
// STREAMREC_TEST_TIME_SCALE (a positive number; 1 when unset or invalid).
double time_scale();
// `timeout` multiplied by time_scale().
std::chrono::milliseconds scaled(std::chrono::milliseconds timeout);

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
  // Waits for exit up to scaled(`timeout`); returns the exit status
  // (128+signal if killed), or -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  // SIGTERM, then SIGKILL after scaled(`grace`); returns the exit status.
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

// Polls `condition` every 20 ms until it is true or scaled(`timeout`) passes.
template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    struct timespec ts{0, 20 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  return condition();
}

}  // namespace streamrec::testing
