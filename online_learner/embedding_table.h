// A collisionless embedding table: every 64-bit feature key owns its own
// row (no modulo buckets), rows are created online, and forgotten when unseen.
//
// Guarantees:
//  - A key gets a row only after `admit_after` sightings (see observe());
//    until then lookups return kNoRow and the feature contributes zeros.
//  - evict_unseen(now) frees every row whose last sighting is older than the
//    TTL; freed rows are reused, so memory stays proportional to live keys.
//  - evict_over_bound() keeps at most `max_rows` rows (and as many keys
//    awaiting admission): beyond, it frees the least recently seen, down to
//    15/16 of the bound (one pass per sixteenth: amortized O(1) a row; ties
//    by row number, so replays evict the same rows).
//  - Row contents depend only on (seed, key) at creation and on the updates
//    applied since, never on insertion order: replays are deterministic.
//  - bytes() is exact for the storage this class owns (rows, optimizer state,
//    keys, timestamps, free list, index; capacity, not just size) except
//    for the admission counters' hash buckets and malloc headers; it depends
//    only on the contents, so a restored table reports the same bytes.
// Not thread-safe. Owns all its memory. Errors: none (allocation failure
// aborts, like the rest of the learner).
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace streamrec::learner {

class ByteWriter;
class ByteReader;

class EmbeddingTable {
 public:
  static constexpr uint32_t kNoRow = UINT32_MAX;

  // The first `random_dims` floats of a new row are uniform in
  // [-init_scale, init_scale], the rest zero (default: all random).
  EmbeddingTable(int dim, int admit_after, int64_t ttl_ms, float init_scale, uint64_t seed, int random_dims = -1,
                 size_t max_rows = 4'000'000);

  int dim() const { return dim_; }

  // Records one sighting of `key` at event time `now_ms` and returns its row,
  // creating it when the key reaches its admission count; kNoRow before that.
  uint32_t observe(uint64_t key, int64_t now_ms);
  // The row of `key`, or kNoRow; does not count as a sighting.
  uint32_t find(uint64_t key) const;

  float* row(uint32_t r) { return &weights_[size_t(r) * dim_]; }
  const float* row(uint32_t r) const { return &weights_[size_t(r) * dim_]; }
  // Per-row optimizer state (Adagrad accumulators or momentum), dim floats.
  float* state(uint32_t r) { return &state_[size_t(r) * dim_]; }
  uint64_t key_of(uint32_t r) const { return keys_[r]; }

  // Frees the row of `key` and forgets its admission count, as if it had
  // never been seen; true when there was either.
  bool erase(uint64_t key);
  // Frees rows (and forgets admission counts) unseen for the TTL; returns
  // the number of rows freed. A TTL of 0 keeps everything.
  size_t evict_unseen(int64_t now_ms);
  // Frees the least recently seen rows (and admission counts) while more
  // than max_rows are held (see above); returns the rows freed. Call it
  // between mini-batches: freed rows are reused for other keys.
  size_t evict_over_bound();
  size_t max_rows() const { return max_rows_; }

  size_t rows() const { return live_; }
  size_t capacity_rows() const { return keys_.size(); }
  // Exact bytes held, and bytes per live row (weights + state + key +
  // last-seen + index slots), as reported.
  size_t bytes() const;
  size_t bytes_per_row() const;
  uint64_t admitted_total() const { return admitted_total_; }
  uint64_t evicted_total() const { return evicted_total_; }  // by the TTL and the bound

  void save(ByteWriter& out) const;
  // Replaces the contents with a saved table of the same dim (or, with
  // any_dim, of whatever dim it was saved with); false on a mismatch or bad
  // data (the reader records the error).
  bool load(ByteReader& in, bool any_dim = false);
  // Whether row r holds a live key (rows below capacity_rows() may be free).
  bool live(uint32_t r) const;
  int64_t last_seen(uint32_t r) const { return last_seen_[r]; }

 private:
  uint32_t insert_row(uint64_t key, int64_t now_ms);
  void reserve_rows(size_t rows);
  void index_insert(uint64_t key, uint32_t row);
  void index_erase(uint64_t key);
  void index_grow();
  size_t slot_of(uint64_t key) const;
  void init_row(uint32_t r, uint64_t key);
  void free_row(uint32_t r);

  int dim_;
  int random_dims_;
  int admit_after_;
  int64_t ttl_ms_;
  size_t max_rows_;
  float init_scale_;
  uint64_t seed_;

  // Row storage, indexed by row number.
  std::vector<float> weights_;
  std::vector<float> state_;
  std::vector<uint64_t> keys_;
  std::vector<int64_t> last_seen_;
  std::vector<uint32_t> free_rows_;  // freed rows, reused LIFO
  size_t live_ = 0;

  // Open-addressing index (linear probing, backward-shift deletion):
  // slot -> row; kNoRow marks an empty slot, so every key value is usable.
  std::vector<uint32_t> index_;
  size_t index_mask_ = 0;

  // Keys seen but not yet admitted: sightings and last sighting.
  struct Pending {
    uint32_t sightings;
    int64_t last_seen;
  };
  std::unordered_map<uint64_t, Pending> pending_;

  uint64_t admitted_total_ = 0;
  uint64_t evicted_total_ = 0;
};

}  // namespace streamrec::learner
