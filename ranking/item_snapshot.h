// The serving scorer: the item side of rankings frozen once, then many users
// scored against it, each at the cost of its own side.
//
// Contract:
//  - snapshot_items() freezes the dense model and the inputs of some items
//    (each as its keys, FeatureEncoder::item_keys) as of one moment. Column c
//    is the c-th item given. The part of the model's first layer that depends
//    on the items alone (Model::varying_part) is computed for a column the
//    first time a scorer reads it: a refresh costs the copy of the inputs,
//    not a product over the whole catalog, and a second's rankings pay for
//    the items they score, at most the whole catalog once.
//  - UserScorer::score() gives, for one user and chosen columns of a
//    snapshot, the predictions Learner::prepare(samples, batch, false) +
//    Learner::score(batch) would give the samples pairing (user_id, context,
//    recent_clicks) with each of those items, one column per item, up to
//    float rounding, if the model and the items' embedding rows were still
//    those of the snapshot. The user's side (its rows, context and recent
//    clicks) is read from the learner now, once, and the model multiplies per
//    candidate only what depends on both sides (Model::forward_varying).
//  - Both only read the Learner (its const serving view); neither changes it.
// Threads: not thread-safe; the caller holds whatever lock keeps the Learner
// from changing while it reads (pipeline: the model lock). A scorer fills in
// the snapshot's first-layer columns it reads, so a snapshot is scored by
// one thread at a time. Errors: none.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "online_learner/features.h"
#include "online_learner/learner.h"
#include "online_learner/model.h"

namespace streamrec::ranking {

// The fields that depend on the item alone (ItemSnapshot::inputs' order).
inline constexpr int kItemFields[] = {learner::FeatureEncoder::kItem, learner::FeatureEncoder::kCategory,
                                      learner::FeatureEncoder::kPrice};

struct ItemSnapshot {
  std::optional<learner::Model> model;  // the dense model
  learner::Mat inputs;  // the item fields' inputs (dim rows each), as Learner::prepare() resolves them
  learner::Mat wide;    // their logit biases, tasks rows (zeros without bias_terms)
  learner::Mat first;   // model->varying_part of inputs, in the columns first_ready marks
  std::vector<bool> first_ready;
};

// Freezes the learner's dense model and `items` into `snapshot`.
void snapshot_items(const learner::Learner& learner, std::span<const learner::ItemKeys> items,
                    ItemSnapshot& snapshot);

class UserScorer {
 public:
  // Reads `learner`, which must outlive it.
  explicit UserScorer(const learner::Learner& learner) : learner_(learner) {}

  // Scores the snapshot's items `columns` for one user (see above). The batch
  // is for reading predictions only (its x0 is not filled), not for
  // Learner::forward_backward() or apply().
  void score(std::string_view user_id, const std::vector<ContextFeature>& context,
             const std::vector<std::string>& recent_clicks, ItemSnapshot& items,
             std::span<const size_t> columns, learner::Batch& batch);

 private:
  const learner::Learner& learner_;
  // Scratch kept between calls: the user's keys, the user's column and
  // logit biases.
  std::vector<uint64_t> user_keys_, user_bag_;
  learner::Vec user_column_, user_wide_;
  // The columns whose first-layer part a call computes, their inputs and
  // their part.
  std::vector<size_t> missing_;
  learner::Mat missing_inputs_, missing_first_;

  void fill_first(ItemSnapshot& items, std::span<const size_t> columns);
};

}  // namespace streamrec::ranking
