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

CoVisitation::Key CoVisitation::intern(const std::string& item) {
  if (auto it = key_of_.find(item); it != key_of_.end()) return it->second;
  Key key;
  if (!free_.empty()) {
    key = free_.back();
    free_.pop_back();
  } else {
    key = static_cast<Key>(slots_.size());
    slots_.emplace_back();
  }
  Slot& slot = slots_[key];
  slot.item = item;
  slot.stamp = ++stamps_;
  key_of_.emplace(slot.item, key);
  return key;
}

void CoVisitation::release(Key key) {
  Slot& slot = slots_[key];
  if (--slot.holders > 0) return;
  key_of_.erase(slot.item);
  slot.item.clear();
  free_.push_back(key);
}

CoVisitation::Key CoVisitation::touch(const std::string& item) {
  const Key key = intern(item);
  Slot& slot = slots_[key];
  if (slot.has_row) {
    recency_.splice(recency_.begin(), recency_, slot.recency);
    return key;
  }
  ++slot.holders;  // held before an eviction below could release it
  slot.has_row = true;
  if (recency_.size() >= limits_.max_items) {
    evict_row(recency_.back());
    ++evicted_items_;
  }
  recency_.push_front(key);
  slot.recency = recency_.begin();
  return key;
}

void CoVisitation::evict_row(Key key) {
  Slot& slot = slots_[key];
  for (const Cell& cell : slot.row) release(cell.neighbour);
  cells_ -= slot.row.size();
  slot.row.clear();
  slot.has_row = false;
  recency_.erase(slot.recency);
  release(key);
}

void CoVisitation::drop_cell(Slot& slot, size_t cell) {
  const Key neighbour = slot.row[cell].neighbour;
  slot.row[cell] = slot.row.back();
  slot.row.pop_back();
  --cells_;
  release(neighbour);
}

size_t CoVisitation::first_to_go(const Row& row) const {
  size_t victim = 0;
  for (size_t c = 1; c < row.size(); ++c) {
    const Cell &a = row[c], &b = row[victim];
    if (a.count != b.count ? a.count < b.count : item(a.neighbour) > item(b.neighbour)) victim = c;
  }
  return victim;
}

void CoVisitation::add(Key key, const std::string& neighbour) {
  const Key other = intern(neighbour);
  Row& row = slots_[key].row;
  for (Cell& cell : row)
    if (cell.neighbour == other) {
      ++cell.count;
      return;
    }
  ++slots_[other].holders;
  if (row.size() >= limits_.max_neighbours) {
    drop_cell(slots_[key], first_to_go(row));
    ++evicted_neighbours_;
  }
  row.push_back({other, 1});
  ++cells_;
}

void CoVisitation::observe(const Event& event, const UserHistory* before) {
  find_covisit_pairs(event, before, window_items_, window_ms_, last_pairs_);
  for (const auto& [earlier, item] : last_pairs_) {
    add(touch(earlier), item);
    add(touch(item), earlier);
  }
}

CoVisitation::Key CoVisitation::key(std::string_view item) const {
  auto it = key_of_.find(item);
  return it == key_of_.end() ? kNoKey : it->second;
}

const CoVisitation::Row* CoVisitation::row(Key key) const {
  return key != kNoKey && slots_[key].has_row ? &slots_[key].row : nullptr;
}

const CoVisitation::Row* CoVisitation::row(std::string_view item) const { return row(key(item)); }

uint32_t CoVisitation::count(const Row* row, Key neighbour) {
  if (!row) return 0;
  for (const Cell& cell : *row)
    if (cell.neighbour == neighbour) return cell.count;
  return 0;
}

uint32_t CoVisitation::count(const std::string& a, const std::string& b) const {
  const Key other = key(b);
  return other == kNoKey ? 0 : count(row(a), other);
}

// Items most recent first (the eviction order, itself a function of the
// events), each item's neighbours by id: the same state gives the same bytes.
void CoVisitation::save(learner::ByteWriter& out) const {
  out.u64(recency_.size());
  std::vector<const Cell*> cells;
  for (Key key : recency_) {
    const Row& row = slots_[key].row;
    out.str(item(key));
    cells.clear();
    for (const Cell& cell : row) cells.push_back(&cell);
    std::sort(cells.begin(), cells.end(), [&](auto* a, auto* b) { return item(a->neighbour) < item(b->neighbour); });
    out.u64(cells.size());
    for (const Cell* cell : cells) {
      out.str(item(cell->neighbour));
      out.u32(cell->count);
    }
  }
}

void CoVisitation::clear() {
  slots_.clear();
  free_.clear();
  key_of_.clear();
  recency_.clear();
  cells_ = 0;
  evicted_items_ = evicted_neighbours_ = 0;
}

bool CoVisitation::load(learner::ByteReader& in) {
  clear();
  const uint64_t n = in.u64();
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    const Key key = intern(in.str());
    Slot& slot = slots_[key];
    if (!slot.has_row) {
      ++slot.holders;
      slot.has_row = true;
      recency_.push_back(key);
      slot.recency = std::prev(recency_.end());
    }
    const uint64_t cells = in.u64();
    for (uint64_t j = 0; j < cells && in.ok(); ++j) {
      const Key other = intern(in.str());
      const uint32_t count = in.u32();
      Row& row = slot.row;
      auto cell = std::find_if(row.begin(), row.end(), [&](const Cell& c) { return c.neighbour == other; });
      if (cell != row.end()) {
        cell->count = count;
        continue;
      }
      ++slots_[other].holders;
      row.push_back({other, count});
      ++cells_;
    }
  }
  // A checkpoint of a run with larger bounds: cut down to these, by the
  // same rules.
  while (recency_.size() > limits_.max_items) evict_row(recency_.back());
  for (Key key : recency_) {
    Slot& slot = slots_[key];
    while (slot.row.size() > limits_.max_neighbours) drop_cell(slot, first_to_go(slot.row));
  }
  evicted_items_ = evicted_neighbours_ = 0;
  return in.ok();
}

}  // namespace streamrec::ranking
