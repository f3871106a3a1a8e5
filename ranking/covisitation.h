// Item-to-item co-visitation ("viewed together"), counted online.
//
// When a user views (clicks) item j, each other item among the first
// `window_items` of their viewed list just before (UserHistory: distinct,
// newest first) that they viewed at most `window_ms` earlier gains one
// co-visit with j, in both directions: count(i, j) == count(j, i) is the
// number of such views. The counts are a pure function of the events in
// order, so a replay gives the same counts.
//
// A plain value: not thread-safe, never fails. save()/load() carry the
// counts (load() returns false on damaged bytes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/event.h"
#include "online_learner/byte_io.h"
#include "ranking/user_history.h"

namespace streamrec::ranking {

class CoVisitation {
 public:
  using Row = std::unordered_map<std::string, uint32_t>;

  CoVisitation(size_t window_items, int64_t window_ms) : window_items_(window_items), window_ms_(window_ms) {}

  // Counts `event` (a click; anything else changes nothing) against
  // `before`, its user's history just before it (nullptr: none). The pairs
  // it added to are in last_pairs() (each once, as (earlier item, event's item)).
  void observe(const Event& event, const UserHistory* before);
  const std::vector<std::pair<std::string, std::string>>& last_pairs() const { return last_pairs_; }

  uint32_t count(const std::string& a, const std::string& b) const;
  // The items co-visited with `item` and their counts; nullptr when none.
  const Row* row(const std::string& item) const;
  size_t items() const { return rows_.size(); }

  void save(learner::ByteWriter& out) const;
  bool load(learner::ByteReader& in);

 private:
  size_t window_items_;
  int64_t window_ms_;
  std::unordered_map<std::string, Row> rows_;
  std::vector<std::pair<std::string, std::string>> last_pairs_;
};

}  // namespace streamrec::ranking
