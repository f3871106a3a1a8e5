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
#include <deque>
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
  // An item as the counts number it: the same number while the item has
  // neighbours or is someone's neighbour. A number freed then may later name
  // another item; stamp() tells the two apart, so that a caller may keep
  // what it derived from a number (the ranker: the item's place in its
  // index) and check it is still about the same item.
  using Key = uint32_t;
  static constexpr Key kNoKey = UINT32_MAX;
  struct Cell {
    Key neighbour;
    uint32_t count;
  };
  using Row = std::vector<Cell>;  // at most max_neighbours, in no particular order

  CoVisitation(size_t window_items, int64_t window_ms, CoVisitLimits limits = {});

  // Counts `event` (a click; anything else changes nothing) against
  // `before`, its user's history just before it (nullptr: none). The pairs
  // it added to are in last_pairs() (each once, as (earlier item, event's item)).
  void observe(const Event& event, const UserHistory* before);
  const CoVisitPairs& last_pairs() const { return last_pairs_; }

  uint32_t count(const std::string& a, const std::string& b) const;
  // The number of an item in the counts, kNoKey when it is in none.
  Key key(std::string_view item) const;
  // A number's item and stamp (the number must name one: from key() or a Cell).
  const std::string& item(Key key) const { return slots_[key].item; }
  uint64_t stamp(Key key) const { return slots_[key].stamp; }
  // The items co-visited with `item` and their counts; nullptr when none.
  const Row* row(std::string_view item) const;
  const Row* row(Key key) const;
  // The count of `neighbour` in `row` (either may be missing: 0).
  static uint32_t count(const Row* row, Key neighbour);
  // Items with neighbours (at most limits.max_items), and neighbours kept
  // over all of them (at most max_items * max_neighbours).
  size_t items() const { return recency_.size(); }
  size_t cells() const { return cells_; }
  // Items and neighbours evicted so far (since construction or load()).
  uint64_t evicted_items() const { return evicted_items_; }
  uint64_t evicted_neighbours() const { return evicted_neighbours_; }

  void save(learner::ByteWriter& out) const;
  bool load(learner::ByteReader& in);

 private:
  // Numbers rather than strings in the rows: a ranking walks a few hundred
  // neighbours, and a count is bumped per click; comparing numbers in a row
  // of 50 is cheaper than hashing strings. A slot is held by its item's own
  // row and by each row listing it as a neighbour; when none does, its
  // number is free for the next new item.
  struct Slot {
    std::string item;  // empty when free
    uint64_t stamp = 0;
    uint32_t holders = 0;
    bool has_row = false;
    Row row;
    std::list<Key>::iterator recency;  // in recency_, while has_row
  };
  // `item`'s number, a new one (held by no one yet) if it has none.
  Key intern(const std::string& item);
  void release(Key key);
  // `item`'s row, made the most recent (created, evicting the least recent
  // one when the items are at their bound).
  Key touch(const std::string& item);
  void evict_row(Key key);
  void drop_cell(Slot& slot, size_t cell);
  void add(Key key, const std::string& neighbour);
  // The cell a full row gives up to make room: the fewest co-visits; of
  // those, the greatest id, so that the choice does not depend on the
  // order of the row (which must not be empty).
  size_t first_to_go(const Row& row) const;
  void clear();

  size_t window_items_;
  int64_t window_ms_;
  CoVisitLimits limits_;
  std::deque<Slot> slots_;                            // by number (a deque: items' addresses stay put)
  std::vector<Key> free_;                             // numbers no one holds
  std::unordered_map<std::string_view, Key> key_of_;  // views into slots_' items
  std::list<Key> recency_;                            // items with rows, most recent first
  uint64_t stamps_ = 0;                               // the last stamp given (never reset: not even by load())
  size_t cells_ = 0;
  uint64_t evicted_items_ = 0, evicted_neighbours_ = 0;
  CoVisitPairs last_pairs_;
};

}  // namespace streamrec::ranking
