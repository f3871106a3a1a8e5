#include "online_learner/catalog.h"

#include <algorithm>

#include "online_learner/byte_io.h"

namespace streamrec::learner {

void Catalog::touch(size_t i, bool fresh) {
  const auto slot = static_cast<uint32_t>(i);
  if (fresh) {
    if (older_.size() <= i) {
      older_.resize(i + 1, kNoSlot);
      newer_.resize(i + 1, kNoSlot);
    }
  } else {
    if (newest_ == slot) return;
    (older_[i] != kNoSlot ? newer_[older_[i]] : oldest_) = newer_[i];
    older_[newer_[i]] = older_[i];  // not the newest: newer_[i] is a slot
  }
  older_[i] = newest_;
  newer_[i] = kNoSlot;
  (newest_ != kNoSlot ? newer_[newest_] : oldest_) = slot;
  newest_ = slot;
}

size_t Catalog::evict_least_recent() {
  const size_t i = oldest_;
  oldest_ = newer_[i];
  (oldest_ != kNoSlot ? older_[oldest_] : newest_) = kNoSlot;
  index_.erase(items_[i].item_id);
  auto pos = std::lower_bound(available_.begin(), available_.end(), i);
  if (pos != available_.end() && *pos == i) available_.erase(pos);
  sampler_.clear(i);
  ++evicted_items_;
  return i;
}

void Catalog::update(const Item& item) {
  ++changes_;
  size_t i;
  bool fresh = false;
  if (auto it = index_.find(std::string_view(item.item_id)); it != index_.end()) {
    i = it->second;
    items_[i] = item;
  } else {
    fresh = true;
    if (index_.size() >= max_items_) {
      i = evict_least_recent();
      items_[i] = item;
    } else {
      i = items_.size();
      items_.push_back(item);
    }
    index_.emplace(item.item_id, i);
  }
  touch(i, fresh);
  auto pos = std::lower_bound(available_.begin(), available_.end(), i);
  bool listed = pos != available_.end() && *pos == i;
  if (item.available && !listed) available_.insert(pos, i);
  if (!item.available && listed) available_.erase(pos);
  sampler_.set_available(i, item.available);
}

void Catalog::observe(std::string_view item_id) {
  if (auto it = index_.find(item_id); it != index_.end()) sampler_.add_count(it->second);
}

const Item* Catalog::sample_popular(SplitMix& rng, std::string_view except, float* log_correction) const {
  size_t n = sampler_.available();
  if (n == 0 || (n == 1 && items_[available_[0]].item_id == except)) return nullptr;
  for (;;) {
    size_t i = sampler_.sample(rng);
    if (items_[i].item_id == except) continue;
    *log_correction = static_cast<float>(sampler_.log_correction(i));
    return &items_[i];
  }
}

float Catalog::log_correction(std::string_view item_id) const {
  auto it = index_.find(item_id);
  return it == index_.end() ? 0.0f : static_cast<float>(sampler_.log_correction(it->second));
}

const Item* Catalog::find(std::string_view item_id) const {
  auto it = index_.find(item_id);
  return it == index_.end() ? nullptr : &items_[it->second];
}

const Item* Catalog::sample_available(SplitMix& rng, std::string_view except) const {
  size_t n = available_.size();
  if (n == 0 || (n == 1 && items_[available_[0]].item_id == except)) return nullptr;
  for (;;) {
    const Item& item = items_[available_[rng.below(n)]];
    if (item.item_id != except) return &item;
  }
}

void Catalog::save(ByteWriter& out) const {
  out.u64(items_.size());
  for (const Item& i : items_) {
    out.str(i.item_id);
    out.str(i.category);
    out.str(i.brand);
    out.f64(i.price);
    out.u8(i.available);
    out.i64(i.ts_ms);
  }
  sampler_.save(out);
}

bool Catalog::load(ByteReader& in) {
  clear_slots();
  // Slots as saved (the sampler's counts are by slot); the recency is the
  // slot order. Saved under a larger bound: cut below.
  const size_t bound = max_items_;
  max_items_ = SIZE_MAX;
  sampler_ = NegativeSampler();
  uint64_t n = in.u64();
  for (uint64_t k = 0; k < n && in.ok(); ++k) {
    Item i;
    i.item_id = in.str();
    i.category = in.str();
    i.brand = in.str();
    i.price = in.f64();
    i.available = in.u8() != 0;
    i.ts_ms = in.i64();
    update(i);
  }
  max_items_ = bound;
  if (!in.ok() || !sampler_.load(in)) return false;
  if (items_.size() > max_items_) keep_newest_slots();
  return true;
}

void Catalog::clear_slots() {
  ++changes_;
  items_.clear();
  index_.clear();
  available_.clear();
  older_.clear();
  newer_.clear();
  oldest_ = newest_ = kNoSlot;
}

void Catalog::keep_newest_slots() {
  // The newest max_items_ slots, renumbered from 0 with their counts: no
  // slot is left empty (save() writes every slot).
  const size_t first = items_.size() - max_items_;
  std::vector<Item> kept(std::make_move_iterator(items_.begin() + static_cast<std::ptrdiff_t>(first)),
                         std::make_move_iterator(items_.end()));
  std::vector<int64_t> counts;
  for (size_t i = first; i < items_.size(); ++i) counts.push_back(sampler_.count(i));
  const uint64_t evicted = evicted_items_ + first;
  clear_slots();
  sampler_ = NegativeSampler();
  for (size_t k = 0; k < kept.size(); ++k) {
    update(kept[k]);
    sampler_.set_count(k, counts[k]);
  }
  evicted_items_ = evicted;
}

}  // namespace streamrec::learner
