#include "online_learner/embedding_table.h"

#include <algorithm>
#include <limits>

#include "online_learner/byte_io.h"

namespace streamrec::learner {
namespace {

constexpr int64_t kFreeRow = std::numeric_limits<int64_t>::min();

uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

EmbeddingTable::EmbeddingTable(int dim, int admit_after, int64_t ttl_ms, float init_scale, uint64_t seed,
                               int random_dims, size_t max_rows)
    : dim_(dim), random_dims_(random_dims < 0 ? dim : std::min(dim, random_dims)), admit_after_(std::max(1, admit_after)), ttl_ms_(ttl_ms),
      max_rows_(std::max<size_t>(1, max_rows)), init_scale_(init_scale), seed_(seed) {
  index_.assign(1024, kNoRow);
  index_mask_ = index_.size() - 1;
}

size_t EmbeddingTable::slot_of(uint64_t key) const { return mix64(key ^ 0x2545f4914f6cdd1dULL) & index_mask_; }

uint32_t EmbeddingTable::find(uint64_t key) const {
  for (size_t s = slot_of(key);; s = (s + 1) & index_mask_) {
    uint32_t r = index_[s];
    if (r == kNoRow) return kNoRow;
    if (keys_[r] == key) return r;
  }
}

uint32_t EmbeddingTable::observe(uint64_t key, int64_t now_ms) {
  uint32_t r = find(key);
  if (r != kNoRow) {
    last_seen_[r] = std::max(last_seen_[r], now_ms);
    return r;
  }
  if (admit_after_ > 1) {
    auto [it, fresh] = pending_.try_emplace(key, Pending{0, now_ms});
    it->second.sightings++;
    it->second.last_seen = std::max(it->second.last_seen, now_ms);
    if (static_cast<int>(it->second.sightings) < admit_after_) return kNoRow;
    pending_.erase(it);
  }
  return insert_row(key, now_ms);
}

void EmbeddingTable::init_row(uint32_t r, uint64_t key) {
  uint64_t s = mix64(key ^ mix64(seed_ + 0x9e3779b97f4a7c15ULL));
  float* w = row(r);
  for (int i = 0; i < dim_; ++i) {
    s += 0x9e3779b97f4a7c15ULL;
    double u = static_cast<double>(mix64(s) >> 11) * 0x1.0p-53;  // [0, 1)
    w[i] = i < random_dims_ ? static_cast<float>((2 * u - 1) * init_scale_) : 0.0f;
  }
  std::fill_n(state(r), dim_, 0.0f);
}

uint32_t EmbeddingTable::insert_row(uint64_t key, int64_t now_ms) {
  uint32_t r;
  if (!free_rows_.empty()) {
    r = free_rows_.back();
    free_rows_.pop_back();
  } else {
    r = static_cast<uint32_t>(keys_.size());
    if (keys_.size() == keys_.capacity()) reserve_rows(std::max<size_t>(1024, 2 * keys_.capacity()));
    keys_.push_back(0);
    last_seen_.push_back(0);
    weights_.resize(weights_.size() + dim_);
    state_.resize(state_.size() + dim_);
  }
  keys_[r] = key;
  last_seen_[r] = now_ms;
  init_row(r, key);
  ++live_;
  ++admitted_total_;
  if (2 * (live_ + 1) > index_.size()) index_grow();
  index_insert(key, r);
  return r;
}

void EmbeddingTable::index_insert(uint64_t key, uint32_t row) {
  size_t s = slot_of(key);
  while (index_[s] != kNoRow) s = (s + 1) & index_mask_;
  index_[s] = row;
}

void EmbeddingTable::index_grow() {
  std::vector<uint32_t> old;
  old.swap(index_);
  index_.assign(old.size() * 2, kNoRow);
  index_mask_ = index_.size() - 1;
  for (uint32_t r : old)
    if (r != kNoRow) index_insert(keys_[r], r);
}

void EmbeddingTable::index_erase(uint64_t key) {
  size_t i = slot_of(key);
  while (keys_[index_[i]] != key) i = (i + 1) & index_mask_;
  index_[i] = kNoRow;
  // Backward-shift: move later entries of the probe run into the hole.
  for (size_t j = (i + 1) & index_mask_; index_[j] != kNoRow; j = (j + 1) & index_mask_) {
    size_t home = slot_of(keys_[index_[j]]);
    bool movable = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
    if (movable) {
      index_[i] = index_[j];
      index_[j] = kNoRow;
      i = j;
    }
  }
}

void EmbeddingTable::reserve_rows(size_t rows) {
  // Capacity follows the row count alone (1024, doubling), so a restored
  // table holds exactly the memory of the one that was saved.
  keys_.reserve(rows);
  last_seen_.reserve(rows);
  free_rows_.reserve(rows);
  weights_.reserve(rows * dim_);
  state_.reserve(rows * dim_);
}

bool EmbeddingTable::erase(uint64_t key) {
  const bool was_pending = pending_.erase(key) > 0;
  const uint32_t r = find(key);
  if (r == kNoRow) return was_pending;
  index_erase(key);
  last_seen_[r] = kFreeRow;
  free_rows_.push_back(r);
  --live_;
  return true;
}

size_t EmbeddingTable::evict_unseen(int64_t now_ms) {
  if (ttl_ms_ <= 0) return 0;
  int64_t cutoff = now_ms - ttl_ms_;
  size_t freed = 0;
  for (uint32_t r = 0; r < keys_.size(); ++r) {
    if (last_seen_[r] == kFreeRow || last_seen_[r] >= cutoff) continue;
    free_row(r);
    ++freed;
  }
  std::erase_if(pending_, [cutoff](const auto& kv) { return kv.second.last_seen < cutoff; });
  evicted_total_ += freed;
  return freed;
}

void EmbeddingTable::free_row(uint32_t r) {
  index_erase(keys_[r]);
  last_seen_[r] = kFreeRow;
  free_rows_.push_back(r);
  --live_;
}

size_t EmbeddingTable::evict_over_bound() {
  size_t freed = 0;
  if (live_ > max_rows_) {
    const size_t keep = max_rows_ - max_rows_ / 16;
    const size_t drop = live_ - keep;
    // The drop-th oldest sighting: rows seen before it go, and of those
    // seen at that very time, the lowest-numbered ones until `drop` went.
    std::vector<int64_t> seen;
    seen.reserve(live_);
    for (uint32_t r = 0; r < keys_.size(); ++r)
      if (last_seen_[r] != kFreeRow) seen.push_back(last_seen_[r]);
    std::nth_element(seen.begin(), seen.begin() + static_cast<std::ptrdiff_t>(drop - 1), seen.end());
    const int64_t threshold = seen[drop - 1];
    size_t below = 0;
    for (int64_t t : seen) below += t < threshold;
    size_t at_threshold = drop - below;
    for (uint32_t r = 0; r < keys_.size() && freed < drop; ++r) {
      const int64_t t = last_seen_[r];
      if (t == kFreeRow || t > threshold) continue;
      if (t == threshold) {
        if (at_threshold == 0) continue;
        --at_threshold;
      }
      free_row(r);
      ++freed;
    }
    evicted_total_ += freed;
  }
  if (pending_.size() > max_rows_) {
    // Keys awaiting admission: the oldest sightings go (all those tied
    // with the last one: the set does not depend on the map's order).
    const size_t drop = pending_.size() - (max_rows_ - max_rows_ / 16);
    std::vector<int64_t> seen;
    seen.reserve(pending_.size());
    for (const auto& [key, p] : pending_) seen.push_back(p.last_seen);
    std::nth_element(seen.begin(), seen.begin() + static_cast<std::ptrdiff_t>(drop - 1), seen.end());
    const int64_t threshold = seen[drop - 1];
    std::erase_if(pending_, [threshold](const auto& kv) { return kv.second.last_seen <= threshold; });
  }
  return freed;
}

size_t EmbeddingTable::bytes() const {
  // Keys awaiting admission: a libstdc++ node holds the next pointer and the
  // pair (8-byte key + 16-byte Pending). The bucket array (whose size depends
  // on rehash history, not on the contents) and malloc headers are not counted.
  size_t pending = pending_.size() * (sizeof(void*) + sizeof(uint64_t) + sizeof(Pending));
  return weights_.capacity() * sizeof(float) + state_.capacity() * sizeof(float) +
         keys_.capacity() * sizeof(uint64_t) + last_seen_.capacity() * sizeof(int64_t) +
         free_rows_.capacity() * sizeof(uint32_t) + index_.capacity() * sizeof(uint32_t) + pending;
}

size_t EmbeddingTable::bytes_per_row() const {
  // Row payload plus its share of the index at the current load.
  return 2 * dim_ * sizeof(float) + sizeof(uint64_t) + sizeof(int64_t) +
         (live_ ? index_.size() * sizeof(uint32_t) / live_ : 0);
}

void EmbeddingTable::save(ByteWriter& out) const {
  out.u32(static_cast<uint32_t>(dim_));
  out.pod_vector(keys_);
  out.pod_vector(last_seen_);
  out.pod_vector(weights_);
  out.pod_vector(state_);
  out.pod_vector(free_rows_);
  out.u64(live_);
  std::vector<std::pair<uint64_t, Pending>> pending(pending_.begin(), pending_.end());
  std::sort(pending.begin(), pending.end(), [](auto& a, auto& b) { return a.first < b.first; });
  out.u64(pending.size());
  for (auto& [k, p] : pending) {
    out.u64(k);
    out.u32(p.sightings);
    out.i64(p.last_seen);
  }
  out.u64(admitted_total_);
  out.u64(evicted_total_);
}

bool EmbeddingTable::live(uint32_t r) const { return r < keys_.size() && last_seen_[r] != kFreeRow; }

bool EmbeddingTable::load(ByteReader& in, bool any_dim) {
  uint32_t saved_dim = in.u32();
  if (any_dim && saved_dim > 0 && saved_dim <= 4096) {
    dim_ = static_cast<int>(saved_dim);
    random_dims_ = std::min(random_dims_, dim_);
  }
  if (saved_dim != static_cast<uint32_t>(dim_)) {
    in.fail("embedding dim differs from the configured learner.embedding_dim");
    return false;
  }
  in.pod_vector(keys_);
  in.pod_vector(last_seen_);
  in.pod_vector(weights_);
  in.pod_vector(state_);
  in.pod_vector(free_rows_);
  live_ = in.u64();
  size_t n = in.u64();
  pending_.clear();
  for (size_t i = 0; i < n && in.ok(); ++i) {
    uint64_t k = in.u64();
    Pending p;
    p.sightings = in.u32();
    p.last_seen = in.i64();
    pending_.emplace(k, p);
  }
  admitted_total_ = in.u64();
  evicted_total_ = in.u64();
  size_t rows = keys_.size();
  if (in.ok() && (last_seen_.size() != rows || weights_.size() != rows * dim_ || state_.size() != rows * dim_ ||
                  live_ + free_rows_.size() != rows))
    in.fail("embedding table arrays disagree");
  if (!in.ok()) return false;
  size_t row_cap = 1024;
  while (row_cap < rows) row_cap *= 2;
  reserve_rows(row_cap);
  size_t cap = 1024;
  while (cap < 2 * (live_ + 1)) cap *= 2;
  index_.assign(cap, kNoRow);
  index_mask_ = cap - 1;
  for (uint32_t r = 0; r < rows; ++r)
    if (last_seen_[r] != kFreeRow) index_insert(keys_[r], r);
  return true;
}

}  // namespace streamrec::learner
