#include "ranking/popular_by_group.h"

#include <algorithm>

namespace streamrec::ranking {

void PopularByGroup::clear(size_t items) {
  popularity_ = nullptr;
  members_.clear();
  leaders_.clear();
  noted_.clear();
  group_of_.assign(items, kNoGroup);
  is_noted_.assign(items, 0);
  listed_.assign(items, 0);
}

size_t PopularByGroup::add_group() {
  members_.emplace_back();
  leaders_.emplace_back();
  noted_.emplace_back();
  return members_.size() - 1;
}

void PopularByGroup::add(size_t group, size_t item) {
  members_[group].push_back(item);
  group_of_[item] = group;
}

// The order is total (popularity, then the lower number), as a full sort's.
bool PopularByGroup::more_popular(size_t a, size_t b) const {
  const double pa = *(*popularity_)[a], pb = *(*popularity_)[b];
  return pa != pb ? pa > pb : a < b;
}

void PopularByGroup::refresh(const std::vector<const double*>& popularity, size_t depth) {
  popularity_ = &popularity;
  auto more = [&](size_t a, size_t b) { return more_popular(a, b); };
  for (size_t g = 0; g < members_.size(); ++g) {
    std::vector<size_t>& leaders = leaders_[g];
    leaders = members_[g];
    const size_t m = std::min(depth, leaders.size());
    if (m < leaders.size())
      std::nth_element(leaders.begin(), leaders.begin() + static_cast<std::ptrdiff_t>(m), leaders.end(), more);
    leaders.resize(m);
    std::sort(leaders.begin(), leaders.end(), more);
    for (size_t item : noted_[g]) is_noted_[item] = 0;
    noted_[g].clear();
  }
}

void PopularByGroup::noted(size_t item) {
  if (item >= group_of_.size() || group_of_[item] == kNoGroup || is_noted_[item]) return;
  is_noted_[item] = 1;
  noted_[group_of_[item]].push_back(item);
}

void PopularByGroup::most_popular(const std::vector<size_t>& groups, size_t n, const std::vector<uint8_t>& excluded,
                                  std::vector<size_t>& out) {
  found_.clear();
  auto list = [&](size_t item) {
    if (excluded[item] || listed_[item]) return false;
    listed_[item] = 1;
    found_.push_back(item);
    return true;
  };
  for (size_t g : groups) {
    // An item past a group's first n leaders not excluded, and not noted, is
    // less popular than each of them: they only gained since the refresh.
    size_t taken = 0;
    for (size_t item : leaders_[g])
      if (list(item) && ++taken == n) break;
    if (taken < n && leaders_[g].size() < members_[g].size()) {
      for (size_t item : members_[g]) list(item);  // too many leaders excluded: the whole group
      continue;
    }
    for (size_t item : noted_[g]) list(item);
  }
  auto more = [&](size_t a, size_t b) { return more_popular(a, b); };
  const size_t m = std::min(n, found_.size());
  if (m < found_.size())
    std::nth_element(found_.begin(), found_.begin() + static_cast<std::ptrdiff_t>(m), found_.end(), more);
  std::sort(found_.begin(), found_.begin() + static_cast<std::ptrdiff_t>(m), more);
  out.insert(out.end(), found_.begin(), found_.begin() + static_cast<std::ptrdiff_t>(m));
  for (size_t item : found_) listed_[item] = 0;
}

}  // namespace streamrec::ranking
