#include "core/stop_signal.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

namespace streamrec {
namespace {
sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR2);  // private wake-up used by the destructor
  return set;
}
}  // namespace

StopSignal::StopSignal() {
  sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  waiter_ = std::thread([this, set] {
    for (int signals = 0;; ++signals) {
      int sig = 0;
      sigwait(&set, &sig);
      if (sig == SIGUSR2) return;  // the destructor's wake-up
      // A second Ctrl-C means "now": writes are idempotent, so quitting
      // without finishing the batch loses nothing.
      if (signals > 0) _exit(130);
      // Said, so that a stop that takes long (the last checkpoint, the
      // model catching up) is seen to have begun.
      spdlog::info("{}: stopping after the batch in progress (a second signal quits at once)", strsignal(sig));
      request_stop();
    }
  });
}

StopSignal::~StopSignal() {
  pthread_kill(waiter_.native_handle(), SIGUSR2);
  waiter_.join();
}

void StopSignal::request_stop() {
  {
    std::lock_guard lock(mu_);
    stop_.store(true);
  }
  cv_.notify_all();
}

bool StopSignal::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return stop_.load(); });
}

}  // namespace streamrec
