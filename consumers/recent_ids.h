// Remembers the last `capacity` event ids (by 64-bit hash) to drop duplicate
// events: the same event_id delivered again at another offset, as a producer
// retry does. Replays of the same offsets are handled by the idempotent
// writer instead; this window covers what offsets cannot. It lives in
// memory: ConsumeLoop keeps one per events partition and refills it after a
// restart or a takeover by re-reading the messages before the partition's
// start.
// capacity 0 disables it. Allocates nothing per id once the window is full.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/flat_map.h"
#include "core/hash.h"

namespace streamrec {

class RecentIds {
 public:
  explicit RecentIds(size_t capacity) : ring_(capacity) {}

  // True if `id` was seen within the window; remembers it either way.
  bool seen_before(std::string_view id) {
    if (ring_.empty()) return false;
    uint64_t h = hash64(id);
    if (!seen_.insert(h)) return true;
    // A new id: it takes the place of the oldest (never itself, which would
    // have been found above).
    if (size_ == ring_.size()) seen_.erase(ring_[next_]);
    else ++size_;
    ring_[next_] = h;
    next_ = next_ + 1 == ring_.size() ? 0 : next_ + 1;
    return false;
  }

 private:
  std::vector<uint64_t> ring_;  // oldest overwritten first
  FlatSet64 seen_;              // what ring_ holds
  size_t next_ = 0;
  size_t size_ = 0;
};

}  // namespace streamrec
