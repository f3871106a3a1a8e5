#include "ranking/covisitation.h"

#include <algorithm>

namespace streamrec::ranking {

void find_covisit_pairs(const Event& event, const UserHistory* before, size_t window_items, int64_t window_ms,
                        CoVisitPairs& out) {
  out.clear();
  if (event.type != EventType::kClick || before == nullptr) return;
  const size_t n = std::min(window_items, before->viewed.size());
  for (size_t k = 0; k < n; ++k) {
    const ViewedItem& earlier = before->viewed[k];
    if (earlier.item_id == event.item_id || event.ts_ms - earlier.ts_ms > window_ms) continue;
    out.emplace_back(earlier.item_id, event.item_id);
  }
}

CoVisitation::CoVisitation(size_t window_items, int64_t window_ms, CoVisitLimits limits)
    : window_items_(window_items), window_ms_(window_ms), limits_(limits) {
  limits_.max_neighbours = std::max<size_t>(1, limits_.max_neighbours);
  limits_.max_items = std::max<size_t>(1, limits_.max_items);
}

CoVisitation::Entry& CoVisitation::touch(const std::string& item) {
  auto it = rows_.find(item);
  if (it != rows_.end()) {
    recency_.splice(recency_.begin(), recency_, it->second.recency);
    return it->second;
  }
  if (rows_.size() >= limits_.max_items) {
    const std::string* oldest = recency_.back();
    recency_.pop_back();
    auto victim = rows_.find(*oldest);
    cells_ -= victim->second.row.size();
    rows_.erase(victim);
    ++evicted_items_;
  }
  it = rows_.try_emplace(item).first;
  recency_.push_front(&it->first);
  it->second.recency = recency_.begin();
  return it->second;
}

void CoVisitation::add(Entry& entry, const std::string& neighbour) {
  Row& row = entry.row;
  if (auto it = row.find(neighbour); it != row.end()) {
    ++it->second;
    return;
  }
  if (row.size() >= limits_.max_neighbours) {
    // The fewest co-visits go; of those the greatest id, so that the choice
    // does not depend on the hash table's order.
    auto victim = row.begin();
    for (auto it = row.begin(); it != row.end(); ++it)
      if (it->second < victim->second || (it->second == victim->second && it->first > victim->first)) victim = it;
    row.erase(victim);
    --cells_;
    ++evicted_neighbours_;
  }
  row.emplace(neighbour, 1);
  ++cells_;
}

void CoVisitation::observe(const Event& event, const UserHistory* before) {
  find_covisit_pairs(event, before, window_items_, window_ms_, last_pairs_);
  for (const auto& [earlier, item] : last_pairs_) {
    add(touch(earlier), item);
    add(touch(item), earlier);
  }
}

uint32_t CoVisitation::count(const std::string& a, const std::string& b) const {
  auto row = rows_.find(a);
  if (row == rows_.end()) return 0;
  auto it = row->second.row.find(b);
  return it == row->second.row.end() ? 0 : it->second;
}

const CoVisitation::Row* CoVisitation::row(const std::string& item) const {
  auto it = rows_.find(item);
  return it == rows_.end() ? nullptr : &it->second.row;
}

// Items most recent first (the eviction order, itself a function of the
// events), each item's neighbours by id: the same state gives the same bytes.
void CoVisitation::save(learner::ByteWriter& out) const {
  out.u64(rows_.size());
  std::vector<const std::pair<const std::string, uint32_t>*> cells;
  for (const std::string* item : recency_) {
    const Row& row = rows_.at(*item).row;
    out.str(*item);
    cells.clear();
    for (auto& cell : row) cells.push_back(&cell);
    std::sort(cells.begin(), cells.end(), [](auto* a, auto* b) { return a->first < b->first; });
    out.u64(cells.size());
    for (auto* cell : cells) {
      out.str(cell->first);
      out.u32(cell->second);
    }
  }
}

bool CoVisitation::load(learner::ByteReader& in) {
  rows_.clear();
  recency_.clear();
  cells_ = 0;
  evicted_items_ = evicted_neighbours_ = 0;
  const uint64_t n = in.u64();
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    auto [it, fresh] = rows_.try_emplace(in.str());
    if (fresh) {
      recency_.push_back(&it->first);
      it->second.recency = std::prev(recency_.end());
    }
    Row& row = it->second.row;
    const uint64_t cells = in.u64();
    for (uint64_t j = 0; j < cells && in.ok(); ++j) {
      std::string other = in.str();
      row[std::move(other)] = in.u32();
    }
  }
  // A checkpoint of a run with larger bounds: cut down to these, by the
  // same rules.
  while (rows_.size() > limits_.max_items) {
    rows_.erase(*recency_.back());
    recency_.pop_back();
  }
  for (auto& [item, entry] : rows_) {
    std::vector<std::pair<uint32_t, std::string>> order;  // the ones that go first sort first
    if (entry.row.size() > limits_.max_neighbours) {
      for (auto& [other, n] : entry.row) order.emplace_back(n, other);
      std::sort(order.begin(), order.end(),
                [](auto& a, auto& b) { return a.first != b.first ? a.first < b.first : a.second > b.second; });
      for (size_t k = 0; k < order.size() - limits_.max_neighbours; ++k) entry.row.erase(order[k].second);
    }
    cells_ += entry.row.size();
  }
  return in.ok();
}

}  // namespace streamrec::ranking
