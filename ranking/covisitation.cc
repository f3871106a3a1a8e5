#include "ranking/covisitation.h"

#include <algorithm>

namespace streamrec::ranking {

void CoVisitation::observe(const Event& event, const UserHistory* before) {
  last_pairs_.clear();
  if (event.type != EventType::kClick || before == nullptr) return;
  const size_t n = std::min(window_items_, before->viewed.size());
  for (size_t k = 0; k < n; ++k) {
    const ViewedItem& earlier = before->viewed[k];
    if (earlier.item_id == event.item_id || event.ts_ms - earlier.ts_ms > window_ms_) continue;
    ++rows_[earlier.item_id][event.item_id];
    ++rows_[event.item_id][earlier.item_id];
    last_pairs_.emplace_back(earlier.item_id, event.item_id);
  }
}

uint32_t CoVisitation::count(const std::string& a, const std::string& b) const {
  auto row = rows_.find(a);
  if (row == rows_.end()) return 0;
  auto it = row->second.find(b);
  return it == row->second.end() ? 0 : it->second;
}

const CoVisitation::Row* CoVisitation::row(const std::string& item) const {
  auto it = rows_.find(item);
  return it == rows_.end() ? nullptr : &it->second;
}

void CoVisitation::save(learner::ByteWriter& out) const {
  std::vector<const std::pair<const std::string, Row>*> rows;
  for (auto& entry : rows_) rows.push_back(&entry);
  std::sort(rows.begin(), rows.end(), [](auto* a, auto* b) { return a->first < b->first; });  // deterministic bytes
  out.u64(rows.size());
  std::vector<const std::pair<const std::string, uint32_t>*> cells;
  for (auto* row : rows) {
    out.str(row->first);
    cells.clear();
    for (auto& cell : row->second) cells.push_back(&cell);
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
  const uint64_t n = in.u64();
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    Row& row = rows_[in.str()];
    const uint64_t cells = in.u64();
    for (uint64_t j = 0; j < cells && in.ok(); ++j) {
      std::string other = in.str();
      row[std::move(other)] = in.u32();
    }
  }
  return in.ok();
}

}  // namespace streamrec::ranking
