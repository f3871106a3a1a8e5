// The most popular items of a few groups (the categories or the brands a
// user just clicked), for one ranking, without reading every item of them.
//
// Contract: items are numbered 0..n-1 (the ranker's available items), each
// in at most one group, each with a live popularity read through a pointer;
// the vector of those pointers given to refresh() must outlive the next
// clear() or refresh() unchanged. Popularity only grows between two
// refresh() calls (it is the log of a sum of positive weights, ranker.h), and
// every item whose popularity moved since the last refresh() is noted().
// Under those rules most_popular() returns exactly what sorting every item
// of the groups by live popularity would (ties: the lower number): the
// leaders each refresh() records per group, and the items noted since, hold
// the answer, and when too many leaders are excluded it reads the whole
// group. A plain value: not thread-safe, never fails.
//
// Why: a category of a million-item catalog holds tens of thousands of
// items; sorting them per ranking took 30% of the model's thread
// (docs/performance.md, "A million items").
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace streamrec::ranking {

class PopularByGroup {
 public:
  // No groups; room for `items` items.
  void clear(size_t items);
  // A new empty group; returns its number (0, 1, ...).
  size_t add_group();
  // Puts `item` in `group` (items in ascending order per group).
  void add(size_t group, size_t item);
  size_t groups() const { return members_.size(); }

  // Records each group's `depth` most popular items, by the popularity
  // `popularity[item]` points to, and forgets what was noted.
  void refresh(const std::vector<const double*>& popularity, size_t depth);
  // The item's popularity moved since the last refresh() (an item in no
  // group is ignored).
  void noted(size_t item);

  // Appends to `out` the `n` most popular items of `groups` (distinct
  // groups) whose `excluded[item]` is 0, most popular first.
  void most_popular(const std::vector<size_t>& groups, size_t n, const std::vector<uint8_t>& excluded,
                    std::vector<size_t>& out);

 private:
  static constexpr size_t kNoGroup = SIZE_MAX;
  bool more_popular(size_t a, size_t b) const;

  const std::vector<const double*>* popularity_ = nullptr;  // as given to the last refresh()
  std::vector<std::vector<size_t>> members_;  // per group, ascending
  std::vector<std::vector<size_t>> leaders_;  // per group, most popular first at the last refresh()
  std::vector<std::vector<size_t>> noted_;    // per group, since the last refresh()
  std::vector<size_t> group_of_;              // per item
  std::vector<uint8_t> is_noted_;             // per item: in noted_
  std::vector<uint8_t> listed_;               // per item: in found_; all 0 between calls
  std::vector<size_t> found_;                 // most_popular()'s scratch
};

}  // namespace streamrec::ranking
