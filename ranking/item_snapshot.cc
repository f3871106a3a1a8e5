#include "ranking/item_snapshot.h"

#include <algorithm>
#include <iterator>

namespace streamrec::ranking {

using learner::EmbeddingTable;
using learner::Vec;

void snapshot_items(const learner::Learner& learner, std::span<const learner::ItemKeys> items,
                    ItemSnapshot& snapshot) {
  const int d = learner.emb_dim(), bias_dim = learner.bias_dim();
  const auto n = static_cast<Eigen::Index>(items.size());
  snapshot.model = learner.model();
  snapshot.inputs.resize(static_cast<Eigen::Index>(std::size(kItemFields)) * d, n);
  snapshot.wide.setZero(learner.loss().tasks().size(), n);
  for (Eigen::Index c = 0; c < n; ++c) {
    const learner::ItemKeys& item = items[static_cast<size_t>(c)];
    const uint64_t keys[] = {item.item, item.category, item.price};
    float* col = snapshot.inputs.col(c).data();
    for (size_t s = 0; s < std::size(kItemFields); ++s, col += d) {
      const float* in = learner.field_input(kItemFields[s], keys[s]);
      if (!in) {
        std::fill_n(col, d, 0.0f);
        continue;
      }
      std::copy_n(in, d, col);
      for (int k = 0; k < bias_dim; ++k) snapshot.wide(k, c) += in[d + k];
    }
  }
  snapshot.first_ready.assign(static_cast<size_t>(n), false);
}

void UserScorer::fill_first(ItemSnapshot& items, std::span<const size_t> columns) {
  missing_.clear();
  for (size_t c : columns)
    if (!items.first_ready[c]) {
      items.first_ready[c] = true;  // a column given twice is computed once
      missing_.push_back(c);
    }
  if (missing_.empty()) return;
  const auto m = static_cast<Eigen::Index>(missing_.size());
  missing_inputs_.resize(items.inputs.rows(), m);
  for (Eigen::Index j = 0; j < m; ++j)
    missing_inputs_.col(j) = items.inputs.col(static_cast<Eigen::Index>(missing_[static_cast<size_t>(j)]));
  items.model->varying_part(kItemFields, missing_inputs_, missing_first_);
  // Kept across refreshes while the catalog's size stays: its pages are
  // mapped once.
  if (items.first.cols() != items.inputs.cols()) items.first.resize(missing_first_.rows(), items.inputs.cols());
  for (Eigen::Index j = 0; j < m; ++j)
    items.first.col(static_cast<Eigen::Index>(missing_[static_cast<size_t>(j)])) = missing_first_.col(j);
}

void UserScorer::score(std::string_view user_id, const std::vector<ContextFeature>& context,
                       const std::vector<std::string>& recent_clicks, ItemSnapshot& items,
                       std::span<const size_t> columns, learner::Batch& b) {
  const learner::FeatureEncoder& encoder = learner_.encoder();
  const EmbeddingTable& table = learner_.table();
  const int f1 = encoder.single_fields(), d = learner_.emb_dim(), fields = encoder.fields();
  const int bias_dim = learner_.bias_dim();
  const int tasks = learner_.loss().tasks().size();

  // The user's side once: a column with zeros in the item fields, and the
  // logit biases of its rows.
  user_keys_.resize(f1);
  user_bag_.clear();
  encoder.encode_user(user_id, context, recent_clicks, user_keys_.data(), user_bag_);
  user_column_.setZero(fields * d);
  user_wide_.setZero(tasks);
  for (int f = 0; f < f1; ++f) {
    if (std::find(std::begin(kItemFields), std::end(kItemFields), f) != std::end(kItemFields)) continue;
    const float* in = learner_.field_input(f, user_keys_[f]);
    if (!in) continue;
    std::copy_n(in, d, user_column_.data() + f * d);
    for (int k = 0; k < bias_dim; ++k) user_wide_(k) += in[d + k];
  }
  if (encoder.has_bag()) {
    Eigen::Map<Vec> bag(user_column_.data() + f1 * d, d);
    int count = 0;
    for (uint64_t key : user_bag_)
      if (uint32_t r = table.find(key); r != EmbeddingTable::kNoRow) {
        bag += Eigen::Map<const Vec>(table.row(r), d);
        ++count;
      }
    if (count > 0) bag /= static_cast<float>(count);
  }

  // Then the items' columns of the snapshot: their own part of the first
  // layer, once per refresh, and what depends on both sides.
  fill_first(items, columns);
  const auto n = static_cast<Eigen::Index>(columns.size());
  b.size = columns.size();
  b.wide.resize(tasks, n);
  for (Eigen::Index c = 0; c < n; ++c)
    b.wide.col(c) = items.wide.col(static_cast<Eigen::Index>(columns[static_cast<size_t>(c)])) + user_wide_;
  items.model->forward_varying(user_column_, kItemFields, items.inputs, items.first, columns, b.acts);
  b.acts.logits += b.wide;
  learner_.loss().predict(b.acts.logits, b.predictions);
}

}  // namespace streamrec::ranking
