// Holds a sender to a target rate: message n may go at start + n / rate.
//
// A Pacer never sleeps for a message that is less than a millisecond early,
// so high rates cost no syscall per message, and it sleeps in slices of at
// most 100 ms so that a stop request is noticed promptly. rate 0 means no
// limit. Not thread-safe: one sender.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>

namespace streamrec {

class Pacer {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Pacer(double rate) : rate_(rate), start_(Clock::now()) {}

  // Waits until message number `n` (counting from 0) is due, or until
  // `stop` returns true.
  void wait_turn(int64_t n, const std::function<bool()>& stop) {
    if (rate_ <= 0) return;
    auto due = start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(n / rate_));
    for (;;) {
      auto now = Clock::now();
      if (due - now < std::chrono::milliseconds(1) || (stop && stop())) return;
      std::this_thread::sleep_for(std::min<Clock::duration>(due - now, std::chrono::milliseconds(100)));
    }
  }

 private:
  double rate_;
  Clock::time_point start_;
};

}  // namespace streamrec
