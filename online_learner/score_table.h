// ScoreTable: the scores of samples scored but not yet learned, by
// event_id, one row of width() floats each (progressive validation keeps one
// per impression while it waits for its labels).
//
// Guarantees: exact by event_id (ids are compared in full; two ids with the
// same 64-bit hash are kept apart); row pointers stay valid until the next
// insert(). No allocation per row once the pool has grown to the number of
// rows held at once. Not thread-safe.
//
// How: rows live in one pool, reused through a free list, and are found by
// hash64(event_id) in a FlatMap64; the rare id whose hash another id already
// holds goes to a small exact map beside it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/flat_map.h"
#include "core/hash.h"

namespace streamrec::learner {

class ScoreTable {
 public:
  explicit ScoreTable(size_t width) : width_(width) {}

  size_t width() const { return width_; }
  size_t size() const { return by_hash_.size() + collided_.size(); }

  // The row of `event_id`, or nullptr.
  float* find(const std::string& event_id) {
    const uint32_t* slot = by_hash_.find(hash64(event_id));
    if (slot && ids_[*slot] == event_id) return row(*slot);
    if (collided_.empty()) return nullptr;
    auto it = collided_.find(event_id);
    return it == collided_.end() ? nullptr : row(it->second);
  }

  // The row of `event_id`, added (zeros) if absent.
  float* insert(const std::string& event_id) {
    if (float* found = find(event_id)) return found;
    uint32_t slot = take_slot(event_id);
    auto [held, fresh] = by_hash_.try_emplace(hash64(event_id));
    if (fresh) *held = slot;
    else collided_.emplace(event_id, slot);
    return row(slot);
  }

  void erase(const std::string& event_id) {
    uint64_t h = hash64(event_id);
    if (const uint32_t* slot = by_hash_.find(h); slot && ids_[*slot] == event_id) {
      free_.push_back(*slot);
      by_hash_.erase(h);
    } else if (auto it = collided_.find(event_id); it != collided_.end()) {
      free_.push_back(it->second);
      collided_.erase(it);
    }
  }

  void clear() {
    rows_.clear();
    ids_.clear();
    free_.clear();
    by_hash_.clear();
    collided_.clear();
  }

  // Calls f(event_id, const float* row) for every row, in event_id order.
  template <class F>
  void for_each_sorted(F f) const {
    std::vector<std::pair<const std::string*, uint32_t>> all;
    all.reserve(size());
    by_hash_.for_each([&](uint64_t, uint32_t slot) { all.emplace_back(&ids_[slot], slot); });
    for (const auto& [id, slot] : collided_) all.emplace_back(&id, slot);
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return *a.first < *b.first; });
    for (const auto& [id, slot] : all) f(*id, &rows_[size_t{slot} * width_]);
  }

 private:
  float* row(uint32_t slot) { return &rows_[size_t{slot} * width_]; }

  uint32_t take_slot(const std::string& event_id) {
    uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
      ids_[slot] = event_id;
      std::fill_n(row(slot), width_, 0.0f);
    } else {
      slot = static_cast<uint32_t>(ids_.size());
      ids_.push_back(event_id);
      rows_.resize(rows_.size() + width_, 0.0f);
    }
    return slot;
  }

  size_t width_;
  std::vector<float> rows_;       // slot * width_ floats
  std::vector<std::string> ids_;  // slot -> event_id
  std::vector<uint32_t> free_;    // slots of erased rows
  FlatMap64<uint32_t> by_hash_;   // hash64(event_id) -> slot
  std::unordered_map<std::string, uint32_t> collided_;  // ids whose hash another id holds
};

}  // namespace streamrec::learner
