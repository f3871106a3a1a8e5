// FlatMap64<V>: a hash map from 64-bit keys to small values, for the
// per-event paths (duplicate-id windows, the joiner's indexes), where
// std::unordered_map's node per entry costs a malloc and a free per event.
//
// Guarantees: any uint64_t is a valid key; pointers to values stay valid
// until the next insertion or erase; iteration order is unspecified (callers
// that persist or emit entries order them themselves). Memory is one array
// of at most 4 slots (a key and a value each: 8 bytes for a set) per entry:
// the load stays between 1/8 and 1/2, except after clear(), which keeps the
// capacity. Not thread-safe.
//
// How: open addressing with linear probing; erase moves later entries of the
// probe run back into the hole (no tombstones), so lookups stay short however
// many entries come and go. Key 0 marks an empty slot; the entry whose key
// really is 0 is kept beside the array. Keys are expected to be hashes
// already; they are multiplied by a constant and the top bits taken
// (Fibonacci hashing), which is enough to spread sequential keys too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

namespace streamrec {

template <class V>
class FlatMap64 {
 public:
  size_t size() const { return size_ + (has_zero_ ? 1 : 0); }
  bool empty() const { return size() == 0; }

  V* find(uint64_t key) {
    if (key == kEmpty) return has_zero_ ? &zero_.value : nullptr;
    if (slots_.empty()) return nullptr;
    for (size_t s = home(key);; s = next(s)) {
      Slot& slot = slots_[s];
      if (slot.key == key) return &slot.value;
      if (slot.key == kEmpty) return nullptr;
    }
  }
  const V* find(uint64_t key) const { return const_cast<FlatMap64*>(this)->find(key); }
  bool contains(uint64_t key) const { return find(key) != nullptr; }

  // The value of `key`, value-initialized first if absent; `second` is true
  // when it was inserted.
  std::pair<V*, bool> try_emplace(uint64_t key) {
    if (key == kEmpty) {
      bool fresh = !has_zero_;
      if (fresh) zero_.value = V{};
      has_zero_ = true;
      return {&zero_.value, fresh};
    }
    if (2 * (size_ + 1) > slots_.size()) grow();
    size_t s = home(key);
    for (; slots_[s].key != kEmpty; s = next(s))
      if (slots_[s].key == key) return {&slots_[s].value, false};
    slots_[s].key = key;
    slots_[s].value = V{};
    ++size_;
    return {&slots_[s].value, true};
  }
  V& operator[](uint64_t key) { return *try_emplace(key).first; }
  // For sets: inserts `key`; false if it was there already.
  bool insert(uint64_t key) { return try_emplace(key).second; }

  // Removes `key`; false if it was absent.
  bool erase(uint64_t key) {
    if (key == kEmpty) {
      bool had = has_zero_;
      has_zero_ = false;
      zero_.value = V{};
      return had;
    }
    if (size_ == 0) return false;
    size_t hole = home(key);
    for (;; hole = next(hole)) {
      if (slots_[hole].key == kEmpty) return false;
      if (slots_[hole].key == key) break;
    }
    // Backward shift: an entry later in the run moves into the hole unless
    // its home lies cyclically in (hole, j], where it is still reachable.
    for (size_t j = next(hole); slots_[j].key != kEmpty; j = next(j)) {
      size_t h = home(slots_[j].key);
      bool reachable = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
      if (reachable) continue;
      slots_[hole] = std::move(slots_[j]);
      hole = j;
    }
    slots_[hole] = Slot{};
    --size_;
    if (slots_.size() > kMinSlots && 8 * size_ < slots_.size()) rehash(slots_.size() / 2);
    return true;
  }

  void clear() {
    for (Slot& slot : slots_) slot = Slot{};
    size_ = 0;
    has_zero_ = false;
    zero_ = Slot{};
  }

  // Calls f(key, value) for every entry, in no particular order.
  template <class F>
  void for_each(F f) const {
    if (has_zero_) f(kEmpty, zero_.value);
    for (const Slot& slot : slots_)
      if (slot.key != kEmpty) f(slot.key, slot.value);
  }

 private:
  static constexpr size_t kMinSlots = 16;
  static constexpr uint64_t kEmpty = 0;
  struct Slot {
    uint64_t key = kEmpty;
    [[no_unique_address]] V value{};
  };
  static_assert(!std::is_empty_v<V> || sizeof(Slot) == sizeof(uint64_t), "a set's slot is its key");

  size_t home(uint64_t key) const { return static_cast<size_t>((key * 0x9e3779b97f4a7c15ULL) >> shift_); }
  size_t next(size_t s) const { return (s + 1) & (slots_.size() - 1); }

  void grow() { rehash(slots_.empty() ? kMinSlots : 2 * slots_.size()); }
  void rehash(size_t slots) {
    std::vector<Slot> old(slots);
    old.swap(slots_);
    shift_ = 64;
    for (size_t n = slots; n > 1; n /= 2) --shift_;
    for (Slot& slot : old) {
      if (slot.key == kEmpty) continue;
      size_t s = home(slot.key);
      while (slots_[s].key != kEmpty) s = next(s);
      slots_[s] = std::move(slot);
    }
  }

  std::vector<Slot> slots_;  // a power of two, or empty
  int shift_ = 64;           // 64 - log2(slots_.size())
  size_t size_ = 0;          // in slots_
  bool has_zero_ = false;    // key 0 is in zero_
  Slot zero_;
};

// A set of 64-bit keys, as above.
struct FlatSetValue {};
using FlatSet64 = FlatMap64<FlatSetValue>;

}  // namespace streamrec
