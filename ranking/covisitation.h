// Item-to-item co-visitation ("viewed together"), counted online.
//
// When a user views (clicks) item j, each other item among the first
// `window_items` of their viewed list just before (UserHistory: distinct,
// newest first) that they viewed at most `window_ms` earlier gains one
// co-visit with j, in both directions: count(i, j) == count(j, i) is the
// number of such views. The counts are a pure function of the events in
// order, so a replay gives the same counts.
//
// Memory is bounded (CoVisitLimits): an item keeps at most
// `max_neighbours` neighbours -- a new neighbour of a full item takes the
// place of the one with the fewest co-visits (of those, the greatest id) --
// and at most `max_items` items keep neighbours -- a new one evicts the
// item whose neighbours changed least recently. Within the bounds the
// counts are exact; past them an evicted count starts again from zero.
// Redis keeps the exact counts (pipeline/covisit_effects.h).
//
// A plain value: not thread-safe, never fails. save()/load() carry the
// counts and the eviction order (load() returns false on damaged bytes).
#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/event.h"
#include "online_learner/byte_io.h"
#include "ranking/user_history.h"

namespace streamrec::ranking {

using CoVisitPairs = std::vector<std::pair<std::string, std::string>>;

// Replaces `out` with the pairs `event` co-visits by the rule above, each
// once, as (earlier item, event's item); `before` is its user's history just
// before it (nullptr: none). Nothing for an event that is not a click.
void find_covisit_pairs(const Event& event, const UserHistory* before, size_t window_items, int64_t window_ms,
                        CoVisitPairs& out);

struct CoVisitLimits {
  size_t max_neighbours = 50;    // per item (at least 1)
  size_t max_items = 100000;     // items with neighbours (at least 1)
};

class CoVisitation {
 public:
  using Row = std::unordered_map<std::string, uint32_t>;

  CoVisitation(size_t window_items, int64_t window_ms, CoVisitLimits limits = {});

  // Counts `event` (a click; anything else changes nothing) against
  // `before`, its user's history just before it (nullptr: none). The pairs
  // it added to are in last_pairs() (each once, as (earlier item, event's item)).
  void observe(const Event& event, const UserHistory* before);
  const CoVisitPairs& last_pairs() const { return last_pairs_; }

  uint32_t count(const std::string& a, const std::string& b) const;
  // The items co-visited with `item` and their counts; nullptr when none.
  const Row* row(const std::string& item) const;
  // Items with neighbours (at most limits.max_items), and neighbours kept
  // over all of them (at most max_items * max_neighbours).
  size_t items() const { return rows_.size(); }
  size_t cells() const { return cells_; }
  // Items and neighbours evicted so far (since construction or load()).
  uint64_t evicted_items() const { return evicted_items_; }
  uint64_t evicted_neighbours() const { return evicted_neighbours_; }

  void save(learner::ByteWriter& out) const;
  bool load(learner::ByteReader& in);

 private:
  struct Entry {
    Row row;
    std::list<const std::string*>::iterator recency;  // in recency_
  };
  // `item`'s entry, made the most recent (created, evicting the least
  // recent one when the items are at their bound).
  Entry& touch(const std::string& item);
  void add(Entry& entry, const std::string& neighbour);

  size_t window_items_;
  int64_t window_ms_;
  CoVisitLimits limits_;
  std::unordered_map<std::string, Entry> rows_;
  std::list<const std::string*> recency_;  // keys of rows_ (stable node addresses), most recent first
  size_t cells_ = 0;
  uint64_t evicted_items_ = 0, evicted_neighbours_ = 0;
  CoVisitPairs last_pairs_;
};

}  // namespace streamrec::ranking
