// The learned blend: how Ranker::rank() weighs its candidates' signals
// (the model's score, the user's own items, co-visits, the category and
// brand of their recent clicks, popularity) against each other, learned
// online from the clicks that follow the rankings served, instead of fixed
// by hand (docs/evaluation.md, "The learned blend").
//
// A candidate's score is exp(w · x) over the kBlendFeatures features x
// below. After a ranking is served, the user's next click on one of its
// candidates is a softmax (listwise) example: the clicked candidate against
// the others served with it. w is the most likely weights given the last
// `window` examples (a conditional logit; the prior, worth about one
// example, pulls towards the starting weights so that a signal the window
// never varies keeps its weight): each time half of the window is new, a
// Newton step from the weights before refits it, a pass over the window.
// So a stream whose users come back to what they viewed learns a large
// weight for the user's own items, one where nobody re-consumes (MovieLens
// ratings) learns to rank them low, and either follows its users within a
// window when they change (a learning rate that decays would not: it
// stayed near the start on REES46). The weights start at the log of the
// hand-tuned fixed blend (`rankings.blend: fixed`) and at P(shown) ·
// P(click | shown) for exposure (which the fixed blend has not), so a fresh
// learner ranks as that did on streams without impressions.
//
// A plain value: deterministic (no randomness, fixed float order), not
// thread-safe, never fails; save()/load() carry the weights and the
// window's examples in the pipeline checkpoint (load() returns false on
// damaged bytes, the reader naming the error). Memory: the window's lists
// (the Ranker keeps 100 candidates of each, or top_k if more; 44 bytes a
// candidate: 2.2 MB at 512 of 100).
#pragma once

#include <array>
#include <cstddef>
#include <deque>
#include <span>
#include <vector>

#include "online_learner/byte_io.h"

namespace streamrec::ranking {

// The candidate's features, in this order.
enum BlendFeature : size_t {
  kLogModelScore,    // log(pCTR + value_weight · pCTCVR · price), at least log(1e-6)
  kRecent,           // 1: the user viewed it (in their recent viewed list)
  kRecency,          // 1 / (1 + its position in that list, newest 0); 0 if not there
  kViews,            // log(1 + the user's views of it while in the list)
  kFreshView,        // exp(-(now - the user's latest view of it) / 30 min); 0 if not viewed
  kCovisitShare,     // its co-visits with the user's last items / the most of any candidate
  kCovisitLog,       // log(1 + those co-visits)
  kCategoryShare,    // share of the user's recent clicks in its category
  kBrandMatch,       // 1: its brand is that of one of the user's recent clicks
  kPopularity,       // (log2 popularity - the most popular candidate's) / 8, clamped to [-4, 0]
  kExposure,         // ln(its decayed impressions / the most exposed candidate's), clamped to [-10, 0];
                     // 0 for every candidate when none was ever shown (streams without impressions)
  kBlendFeatures
};
const char* blend_feature_name(size_t feature);

using BlendFeatures = std::array<float, kBlendFeatures>;

class LearnedBlend {
 public:
  // `window`: the examples fitted to (at least 1).
  explicit LearnedBlend(size_t window = 512);

  // w · x: the log of the candidate's score.
  double log_score(const BlendFeatures& x) const;

  // An example: `served[clicked]` was clicked, the rest were served with
  // it; refits w when due. Lists of fewer than two candidates teach nothing.
  void learn(std::span<const BlendFeatures> served, size_t clicked);

  const std::array<double, kBlendFeatures>& weights() const { return weights_; }
  uint64_t clicks_learned() const { return clicks_learned_; }
  // The weights the blend starts from (the fixed blend's, in log space).
  static std::array<double, kBlendFeatures> initial_weights();

  void save(learner::ByteWriter& out) const;
  // `with_examples`: bytes of save(); false: of a checkpoint from before the
  // fit (pipeline state version 5: the weights and their Adagrad sums).
  bool load(learner::ByteReader& in, bool with_examples = true);

 private:
  struct Example {
    std::vector<BlendFeatures> served;
    size_t clicked;
  };
  // Newton steps on the penalized log-likelihood of the window's examples.
  void fit();

  size_t window_;
  std::deque<Example> examples_;  // the last window_ served lists, oldest first
  size_t since_fit_ = 0;
  std::array<double, kBlendFeatures> weights_;
  uint64_t clicks_learned_ = 0;
};

}  // namespace streamrec::ranking
