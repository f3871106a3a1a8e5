// Remembers the last `capacity` event ids (by 64-bit hash) to drop duplicate
// events: the same event_id delivered again at another offset, as a producer
// retry does. Replays of the same offsets are handled by the idempotent
// writer instead; this window covers what offsets cannot. It starts empty on
// restart, so a duplicate that straddles a restart is counted twice.
// capacity 0 disables it. Not thread-safe.
#pragma once

#include <cstdint>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/hash.h"

namespace streamrec {

class RecentIds {
 public:
  explicit RecentIds(size_t capacity) : ring_(capacity) { seen_.reserve(capacity); }

  // True if `id` was seen within the window; remembers it either way.
  bool seen_before(std::string_view id) {
    if (ring_.empty()) return false;
    uint64_t h = hash64(id);
    if (seen_.count(h)) return true;
    if (size_ == ring_.size()) seen_.erase(ring_[next_]);
    else ++size_;
    ring_[next_] = h;
    next_ = (next_ + 1) % ring_.size();
    seen_.insert(h);
    return false;
  }

 private:
  std::vector<uint64_t> ring_;  // oldest overwritten first
  std::unordered_set<uint64_t> seen_;
  size_t next_ = 0;
  size_t size_ = 0;
};

}  // namespace streamrec
