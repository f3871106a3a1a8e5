#include "ranking/learned_blend.h"

#include <algorithm>
#include <cmath>

#include <Eigen/Dense>

namespace streamrec::ranking {
namespace {
constexpr double kMaxWeight = 50;  // keeps exp(w · x) finite whatever the stream
constexpr double kMaxStep = 2;     // per weight and fit
constexpr double kPrior = 1;       // the prior's weight, in examples' worth of curvature
constexpr size_t kMinRefit = 16;   // clicks between fits at least
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

LearnedBlend::LearnedBlend(size_t window) : window_(std::max<size_t>(1, window)), weights_(initial_weights()) {}

double LearnedBlend::log_score(const BlendFeatures& x) const {
  double s = 0;
  for (size_t f = 0; f < kBlendFeatures; ++f) s += weights_[f] * x[f];
  return s;
}

void LearnedBlend::learn(std::span<const BlendFeatures> served, size_t clicked) {
  if (served.size() < 2 || clicked >= served.size()) return;
  examples_.push_back(Example{std::vector<BlendFeatures>(served.begin(), served.end()), clicked});
  if (examples_.size() > window_) examples_.pop_front();
  ++clicks_learned_;
  // Refit once half of the window is new (and at the first examples): the
  // weights follow the stream, at a cost of one pass over the window per
  // window / 2 clicks, two examples' worth of work a click. (An eighth
  // measured about the same on development data at 4x the cost, which the
  // model thread at 50k events/s could not spare: docs/evaluation.md.)
  if (++since_fit_ >= std::max<size_t>(kMinRefit, examples_.size() / 2)) fit();
}

void LearnedBlend::fit() {
  since_fit_ = 0;
  using Vector = Eigen::Matrix<double, kBlendFeatures, 1>;
  using Matrix = Eigen::Matrix<double, kBlendFeatures, kBlendFeatures>;
  const Vector prior = Eigen::Map<const Vector>(initial_weights().data());
  const Vector w = Eigen::Map<const Vector>(weights_.data());
  // The penalized log-likelihood's gradient and (minus) its Hessian at w:
  // each example adds x(clicked) - E_p[x] and Cov_p[x]; the prior pulls
  // towards the starting weights with the curvature of kPrior examples.
  Vector gradient = -kPrior * (w - prior);
  Matrix curvature = kPrior * Matrix::Identity();
  Eigen::Matrix<double, Eigen::Dynamic, kBlendFeatures> x;
  Eigen::VectorXd p;
  for (const Example& e : examples_) {
    x = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, kBlendFeatures, Eigen::RowMajor>>(
            e.served.front().data(), static_cast<Eigen::Index>(e.served.size()), kBlendFeatures)
            .cast<double>();
    p = x * w;
    p = (p.array() - p.maxCoeff()).exp();
    p /= p.sum();
    const Vector mean = x.transpose() * p;
    gradient += x.row(static_cast<Eigen::Index>(e.clicked)).transpose() - mean;
    curvature += x.transpose() * p.asDiagonal() * x - mean * mean.transpose();
  }
  // One Newton step: from the weights of the fit before, which half a
  // window ago were the optimum, it lands near the new one (two
  // steps measured the same). Far from it (the first fits) a step may
  // overshoot: no weight moves more than kMaxStep at a time.
  Vector delta = curvature.ldlt().solve(gradient);
  if (!delta.allFinite()) return;
  if (const double largest = delta.cwiseAbs().maxCoeff(); largest > kMaxStep) delta *= kMaxStep / largest;
  Eigen::Map<Vector>(weights_.data()) = (w + delta).cwiseMax(-kMaxWeight).cwiseMin(kMaxWeight);
}

void LearnedBlend::save(learner::ByteWriter& out) const {
  out.u32(kBlendFeatures);
  for (double w : weights_) out.f64(w);
  out.u64(clicks_learned_);
  out.u64(since_fit_);
  out.u64(examples_.size());
  for (const Example& e : examples_) {
    out.u32(static_cast<uint32_t>(e.served.size()));
    out.u32(static_cast<uint32_t>(e.clicked));
    out.floats(e.served.front().data(), e.served.size() * kBlendFeatures);
  }
}

bool LearnedBlend::load(learner::ByteReader& in, bool with_examples) {
  if (uint32_t n = in.u32(); n != kBlendFeatures) {
    if (in.ok()) in.fail("learned blend: " + std::to_string(n) + " features, expected " + std::to_string(kBlendFeatures));
    return false;
  }
  std::array<double, kBlendFeatures> w{};
  for (size_t f = 0; f < kBlendFeatures; ++f) {
    w[f] = in.f64();
    if (!with_examples) (void)in.f64();  // the Adagrad sum of checkpoints before the fit
    if (!std::isfinite(w[f]) || std::abs(w[f]) > kMaxWeight) {
      if (in.ok()) in.fail("learned blend: implausible weight");
      return false;
    }
  }
  uint64_t clicks = in.u64();
  std::deque<Example> examples;
  uint64_t since_fit = 0;
  if (with_examples) {
    since_fit = in.u64();
    for (uint64_t n = in.u64(), i = 0; i < n && in.ok(); ++i) {
      const uint32_t size = in.u32(), clicked = in.u32();
      if (!in.ok()) return false;
      if (size < 2 || clicked >= size || uint64_t{size} * sizeof(BlendFeatures) > in.remaining()) {
        in.fail("learned blend: implausible served list");
        return false;
      }
      Example& e = examples.emplace_back(Example{std::vector<BlendFeatures>(size), clicked});
      in.floats(e.served.front().data(), e.served.size() * kBlendFeatures);
    }
  }
  if (!in.ok()) return false;
  weights_ = w;
  clicks_learned_ = clicks;
  since_fit_ = since_fit;
  examples_ = std::move(examples);
  while (examples_.size() > window_) examples_.pop_front();
  return true;
}

}  // namespace streamrec::ranking
