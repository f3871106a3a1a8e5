#include "online_learner/negative_sampler.h"

#include <cmath>

#include "online_learner/byte_io.h"

namespace streamrec::learner {

double NegativeSampler::weight_of(size_t i) const {
  return available_flags_[i] ? std::pow(1.0 + static_cast<double>(counts_[i]), kExponent) : 0.0;
}

void NegativeSampler::grow(size_t n) {
  if (n <= counts_.size()) return;
  size_t capacity = std::max(n, counts_.size() * 2);
  counts_.resize(capacity, 0);
  available_flags_.resize(capacity, 0);
  weights_.resize(capacity, 0.0);
  rebuild();
}

void NegativeSampler::rebuild() {
  tree_.assign(weights_.size() + 1, 0.0);
  total_ = 0;
  for (size_t i = 0; i < weights_.size(); ++i) {
    tree_[i + 1] += weights_[i];
    size_t parent = (i + 1) + ((i + 1) & -(i + 1));
    if (parent < tree_.size()) tree_[parent] += tree_[i + 1];
    total_ += weights_[i];
  }
}

void NegativeSampler::add(size_t i, double delta) {
  for (size_t k = i + 1; k < tree_.size(); k += k & -k) tree_[k] += delta;
  total_ += delta;
}

void NegativeSampler::set_available(size_t i, bool available) {
  grow(i + 1);
  if (static_cast<bool>(available_flags_[i]) == available) return;
  available_flags_[i] = available;
  available_ += available ? 1 : -1;
  double w = weight_of(i);
  add(i, w - weights_[i]);
  weights_[i] = w;
}

void NegativeSampler::add_count(size_t i) {
  grow(i + 1);
  ++counts_[i];
  double w = weight_of(i);
  add(i, w - weights_[i]);
  weights_[i] = w;
}

void NegativeSampler::set_count(size_t i, int64_t count) {
  grow(i + 1);
  counts_[i] = count;
  double w = weight_of(i);
  add(i, w - weights_[i]);
  weights_[i] = w;
}

void NegativeSampler::clear(size_t i) {
  set_available(i, false);
  counts_[i] = 0;
}

size_t NegativeSampler::sample(SplitMix& rng) const {
  if (available_ == 0) return kNone;
  for (;;) {
    double u = rng.uniform() * total_;
    // The smallest slot whose prefix sum exceeds u: descend the tree.
    size_t pos = 0;
    size_t step = 1;
    while (step * 2 < tree_.size()) step *= 2;
    for (; step > 0; step /= 2) {
      if (pos + step < tree_.size() && tree_[pos + step] <= u) {
        pos += step;
        u -= tree_[pos];
      }
    }
    // Rounding can land on a slot of weight 0 at a boundary: draw again.
    if (pos < weights_.size() && weights_[pos] > 0) return pos;
  }
}

double NegativeSampler::probability(size_t i) const {
  return i < weights_.size() && total_ > 0 ? weights_[i] / total_ : 0.0;
}

double NegativeSampler::log_correction(size_t i) const {
  double q = probability(i);
  return q > 0 ? std::log(static_cast<double>(available_) * q) : 0.0;
}

void NegativeSampler::save(ByteWriter& out) const {
  size_t n = counts_.size();
  while (n > 0 && counts_[n - 1] == 0) --n;
  out.u64(n);
  for (size_t i = 0; i < n; ++i) out.i64(counts_[i]);
}

bool NegativeSampler::load(ByteReader& in) {
  uint64_t n = in.u64();
  // Each count is 8 bytes: a corrupt n must not size an allocation.
  if (!in.ok() || n > in.remaining() / 8) return false;
  grow(n);
  for (uint64_t i = 0; i < n && in.ok(); ++i) counts_[i] = in.i64();
  for (size_t i = 0; i < weights_.size(); ++i) weights_[i] = weight_of(i);
  rebuild();
  return in.ok();
}

}  // namespace streamrec::learner
