// Wall-clock time in milliseconds since the Unix epoch: the clock Kafka
// timestamps use, so freshness (Kafka timestamp -> Redis acknowledgement)
// is measured on it. Not monotonic; for intervals use steady_clock.
#pragma once

#include <chrono>
#include <cstdint>

namespace streamrec {

inline int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace streamrec
