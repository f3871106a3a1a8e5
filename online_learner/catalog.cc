#include "online_learner/catalog.h"

#include <algorithm>

#include "online_learner/byte_io.h"

namespace streamrec::learner {

void Catalog::update(const Item& item) {
  auto [it, fresh] = index_.try_emplace(item.item_id, items_.size());
  size_t i = it->second;
  if (fresh) items_.push_back(item);
  else items_[i] = item;
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
  items_.clear();
  index_.clear();
  available_.clear();
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
  return in.ok() && sampler_.load(in);
}

}  // namespace streamrec::learner
