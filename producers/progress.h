// A one-line progress bar on a terminal:
//   produce [##########..........]  50%  528651 events  412034 ev/s  0 failed
// redrawn in place at most every 100 ms, and erased by finish(), after which
// the caller prints its one summary line. Disabled (not on a terminal), it
// prints nothing, so logs get only that summary line.
//
// Writes to the FILE it is given (stderr in practice), never owns it.
// Not thread-safe: one caller.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace streamrec {

class Progress {
 public:
  // `enabled` false makes every call a no-op (e.g. !isatty(stderr)).
  // `total` is the amount update() counts towards; 0 if unknown.
  Progress(std::FILE* out, bool enabled, int64_t total);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // `done` out of total; `events` sent so far; `failed` deliveries so far.
  void update(int64_t done, int64_t events, int64_t failed);
  void finish();

 private:
  void draw(int64_t done, int64_t events, int64_t failed);

  std::FILE* out_;
  bool enabled_;
  int64_t total_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;
};

}  // namespace streamrec
