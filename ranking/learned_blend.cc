#include "ranking/learned_blend.h"

#include <algorithm>
#include <cmath>

namespace streamrec::ranking {
namespace {
constexpr double kAdagradInit = 1e-2;  // initial squared-gradient sum: the first steps are at most ~10 lr
constexpr double kMaxWeight = 50;      // keeps exp(w · x) finite whatever the stream
}  // namespace

const char* blend_feature_name(size_t feature) {
  static constexpr const char* kNames[kBlendFeatures] = {
      "log_model_score", "recent", "recency", "views", "fresh_view", "covisit_share", "covisit_log",
      "category_share", "brand_match", "popularity", "exposure"};
  return feature < kBlendFeatures ? kNames[feature] : "?";
}

std::array<double, kBlendFeatures> LearnedBlend::initial_weights() {
  // The fixed blend, score = model · (1 + 30·share) · (1 + 30·recency + 10·covisit share),
  // in log space and linear: log(1 + 30·r) ≈ 1.4 + 2.03·r over the recent
  // list's r = 1 .. 0.1 (exact at 1, order kept against a co-visit at 0.5),
  // log(1 + 10·c) ≈ 2.4·c, log(1 + 30·s) ≈ 3·s.
  std::array<double, kBlendFeatures> w{};
  w[kLogModelScore] = 1.0;
  w[kRecent] = 1.4;
  w[kRecency] = 2.03;
  w[kCovisitShare] = 2.4;
  w[kCategoryShare] = 3.0;
  // The model's score is P(click | shown); the next click also needs the
  // item to be shown: P(shown) · P(click | shown), so exposure starts at the
  // model score's weight. Streams without impressions have none (the
  // feature is 0 for every candidate, so this weight changes nothing there).
  w[kExposure] = 1.0;
  return w;
}

LearnedBlend::LearnedBlend(double learning_rate) : learning_rate_(learning_rate), weights_(initial_weights()) {
  squared_gradients_.fill(kAdagradInit);
}

double LearnedBlend::log_score(const BlendFeatures& x) const {
  double s = 0;
  for (size_t f = 0; f < kBlendFeatures; ++f) s += weights_[f] * x[f];
  return s;
}

void LearnedBlend::learn(std::span<const BlendFeatures> served, size_t clicked) {
  if (served.size() < 2 || clicked >= served.size()) return;
  // Softmax over the served list; the gradient of log p(clicked) is
  // x(clicked) - E_p[x].
  probabilities_.resize(served.size());
  double most = -INFINITY;
  for (size_t j = 0; j < served.size(); ++j) most = std::max(most, probabilities_[j] = log_score(served[j]));
  double sum = 0;
  for (double& p : probabilities_) sum += p = std::exp(p - most);
  std::array<double, kBlendFeatures> gradient{};
  for (size_t f = 0; f < kBlendFeatures; ++f) gradient[f] = served[clicked][f];
  for (size_t j = 0; j < served.size(); ++j) {
    const double p = probabilities_[j] / sum;
    for (size_t f = 0; f < kBlendFeatures; ++f) gradient[f] -= p * served[j][f];
  }
  for (size_t f = 0; f < kBlendFeatures; ++f) {
    squared_gradients_[f] += gradient[f] * gradient[f];
    weights_[f] += learning_rate_ * gradient[f] / std::sqrt(squared_gradients_[f]);
    weights_[f] = std::clamp(weights_[f], -kMaxWeight, kMaxWeight);
  }
  ++clicks_learned_;
}

void LearnedBlend::save(learner::ByteWriter& out) const {
  out.u32(kBlendFeatures);
  for (size_t f = 0; f < kBlendFeatures; ++f) {
    out.f64(weights_[f]);
    out.f64(squared_gradients_[f]);
  }
  out.u64(clicks_learned_);
}

bool LearnedBlend::load(learner::ByteReader& in) {
  if (uint32_t n = in.u32(); n != kBlendFeatures) {
    if (in.ok()) in.fail("learned blend: " + std::to_string(n) + " features, expected " + std::to_string(kBlendFeatures));
    return false;
  }
  std::array<double, kBlendFeatures> w{}, g{};
  for (size_t f = 0; f < kBlendFeatures; ++f) {
    w[f] = in.f64();
    g[f] = in.f64();
    if (!std::isfinite(w[f]) || std::abs(w[f]) > kMaxWeight || !(g[f] > 0) || !std::isfinite(g[f])) {
      if (in.ok()) in.fail("learned blend: implausible weight");
      return false;
    }
  }
  uint64_t clicks = in.u64();
  if (!in.ok()) return false;
  weights_ = w;
  squared_gradients_ = g;
  clicks_learned_ = clicks;
  return true;
}

}  // namespace streamrec::ranking
