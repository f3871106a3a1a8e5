// Turns SIGINT/SIGTERM into a flag a main loop can poll, without a global.
//
// Construct one StopSignal early in main, before starting other threads: it
// blocks the two signals in the calling thread (threads created afterwards
// inherit the mask) and waits for them on its own thread. The first signal
// requests a stop; a second one ends the process at once (exit status 130).
// stop_requested() is thread-safe. Destruction restores nothing: the process
// is ending.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace streamrec {

class StopSignal {
 public:
  StopSignal();
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  bool stop_requested() const { return stop_.load(std::memory_order_relaxed); }
  // Sleeps up to `timeout`; returns true if a stop was requested.
  bool wait_for(std::chrono::milliseconds timeout);
  void request_stop();

 private:
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread waiter_;
};

}  // namespace streamrec
