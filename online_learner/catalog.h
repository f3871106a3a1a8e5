// The item catalog as the learner sees it: the latest message per item_id
// (category, price, availability), and sampling of available items for
// negative sampling: uniform, or by popularity^0.75 with the logQ correction
// (NegativeSampler), the popularity being the clicks and purchases observe()d.
//
// At most `max_items` items are kept: a new item beyond that takes the place
// of the one whose latest message is the oldest (least recently updated),
// which is then unknown everywhere (find() returns nullptr; never sampled;
// its popularity count gone). Counted in evicted_items().
//
// Sampling is deterministic for a given sequence of updates and a given
// random source. Owns its data; not thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/event.h"
#include "online_learner/negative_sampler.h"
#include "online_learner/parameter.h"

namespace streamrec::learner {

class ByteWriter;
class ByteReader;

class Catalog {
 public:
  explicit Catalog(size_t max_items = 500000) : max_items_(max_items < 1 ? 1 : max_items) {}

  // A later message for the same item replaces the earlier one.
  void update(const Item& item);
  const Item* find(std::string_view item_id) const;
  size_t size() const { return index_.size(); }
  // Counts every change (update(), load()): a copy of the items made when it
  // read n is current while it still reads n.
  uint64_t changes() const { return changes_; }
  uint64_t evicted_items() const { return evicted_items_; }  // since construction
  // Calls f(const Item&) for every available item, in slot order (first
  // appearance, an evicted item's slot reused by the item that took its
  // place). The references live until the next update() or load().
  template <class F>
  void for_each_available(F f) const {
    for (size_t i : available_) f(items_[i]);
  }

  // A uniformly chosen available item other than `except`; nullptr when
  // there is none.
  const Item* sample_available(SplitMix& rng, std::string_view except) const;

  // One more click or purchase of `item_id` (nothing for an unknown item).
  void observe(std::string_view item_id);
  // An available item other than `except`, drawn with probability
  // q = (1 + clicks and purchases)^0.75 / sum; *log_correction gets
  // log(N q) (NegativeSampler). nullptr when there is none.
  const Item* sample_popular(SplitMix& rng, std::string_view except, float* log_correction) const;
  // log(N q) of an item (0 when unknown or unavailable).
  float log_correction(std::string_view item_id) const;
  const NegativeSampler& sampler() const { return sampler_; }

  void save(ByteWriter& out) const;
  bool load(ByteReader& in);

 private:
  // Looked up by string_view without building a std::string (find() is on
  // the per-event path).
  struct IdHash {
    using is_transparent = void;
    size_t operator()(std::string_view id) const { return std::hash<std::string_view>{}(id); }
  };

  // Makes slot i the most recently updated (linking it in when new).
  void touch(size_t i, bool fresh);
  // Frees the least recently updated slot for another item and returns it.
  size_t evict_least_recent();
  // After a load() of more than max_items_: keeps the newest, renumbered.
  void keep_newest_slots();
  // No item, no slot, no recency (the sampler is the caller's).
  void clear_slots();

  size_t max_items_;
  uint64_t evicted_items_ = 0;
  uint64_t changes_ = 0;
  std::vector<Item> items_;  // by slot
  // Slots by recency, a doubly linked list through these vectors (kNoSlot
  // ends it): no allocation per update.
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  std::vector<uint32_t> older_, newer_;
  uint32_t oldest_ = kNoSlot, newest_ = kNoSlot;
  std::unordered_map<std::string, size_t, IdHash, std::equal_to<>> index_;
  std::vector<size_t> available_;  // indexes into items_, kept sorted
  NegativeSampler sampler_;        // slots are indexes into items_
};

}  // namespace streamrec::learner
