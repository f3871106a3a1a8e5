// Popularity-weighted negative sampling for impression-less streams, the way
// word2vec and two-tower retrieval do it: an available item i is drawn with
// probability q_i = w_i / W, w_i = (1 + count_i)^0.75, where count_i counts
// the stream's clicks and purchases of i so far (the 1 keeps never-clicked
// items in reach; 0.75 flattens the head). log_correction(i) = log(N q_i),
// N the number of available items, is the logQ correction (Yi et al.,
// RecSys 2019) that the loss subtracts from the click logit of every sample
// standing for an unseen impression, positive or negative: without it the
// model learns p(click | user, item) / q_i and pushes popular items down.
// Under uniform sampling it is 0.
//
// Items are slots 0..n-1 (the catalog's indexes). Sampling is O(log n) on a
// Fenwick tree of the weights; so are add_count and set_available.
// Deterministic for a sequence of calls and a random source. Owns its data;
// not thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "online_learner/parameter.h"

namespace streamrec::learner {

class ByteWriter;
class ByteReader;

class NegativeSampler {
 public:
  static constexpr double kExponent = 0.75;
  static constexpr size_t kNone = SIZE_MAX;

  // Slot i takes part (or no longer does) in sampling. New slots start
  // unavailable with count 0.
  void set_available(size_t i, bool available);
  // One more click or purchase of slot i.
  void add_count(size_t i);
  // Slot i is taken by another item: unavailable, count 0.
  void clear(size_t i);
  // Slot i's count, as restored elsewhere.
  void set_count(size_t i, int64_t count);
  int64_t count(size_t i) const { return i < counts_.size() ? counts_[i] : 0; }

  // A slot drawn with probability q_i; kNone when no slot is available.
  size_t sample(SplitMix& rng) const;
  double probability(size_t i) const;     // q_i, 0 for an unavailable slot
  double log_correction(size_t i) const;  // log(N q_i); 0 for an unavailable slot
  size_t available() const { return available_; }

  // Counts only: availability follows the catalog, which restores it.
  void save(ByteWriter& out) const;
  bool load(ByteReader& in);

 private:
  double weight_of(size_t i) const;
  void grow(size_t n);
  void add(size_t i, double delta);
  void rebuild();

  std::vector<int64_t> counts_;
  std::vector<uint8_t> available_flags_;
  std::vector<double> weights_;
  std::vector<double> tree_;  // Fenwick tree over weights_, 1-based
  double total_ = 0;
  size_t available_ = 0;
};

}  // namespace streamrec::learner
