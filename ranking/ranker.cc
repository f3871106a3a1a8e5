#include "ranking/ranker.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/popularity.h"
#include "online_learner/features.h"
#include "online_learner/float_order.h"

namespace streamrec::ranking {

using learner::ByteReader;
using learner::ByteWriter;
using learner::EmbeddingTable;
using learner::FeatureEncoder;
using learner::Learner;
using learner::TaskKind;
using learner::TaskSet;
using learner::float_order_key;

namespace {
constexpr auto kIndexRefresh = std::chrono::milliseconds(1000);
}

Ranker::Ranker(const RankingConfig& config, const PopularityConfig& popularity, const Learner& learner)
    : config_(config), popularity_config_(popularity), learner_(learner), scorer_(learner),
      dim_(static_cast<int>(learner.config().embedding_dim)) {}

void Ranker::save(ByteWriter& out) const {
  std::vector<const std::pair<const std::string, double>*> entries;
  for (auto& entry : popularity_) entries.push_back(&entry);
  std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });  // deterministic bytes
  out.u64(entries.size());
  for (auto* entry : entries) {
    out.str(entry->first);
    out.f64(entry->second);
  }
}

bool Ranker::load(ByteReader& in) {
  popularity_.clear();
  uint64_t n = in.u64();
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    std::string id = in.str();
    popularity_[id] = in.f64();
  }
  index_dirty_ = true;
  return in.ok();
}

void Ranker::add_event(const Event& event) {
  ++events_since_build_;
  if (!learner_.catalog().find(event.item_id)) return;  // not in the catalog: never a candidate
  // The same score sr:pop keeps (feature_store/feature_effects.h).
  auto [it, fresh] = popularity_.try_emplace(event.item_id, -std::numeric_limits<double>::infinity());
  it->second = log2_sum(it->second, popularity_exponent(popularity_config_, event.type, event.ts_ms));
}

void Ranker::refresh_index() {
  if (rebuild_every_events_ > 0) {
    if (!index_dirty_ && events_since_build_ < rebuild_every_events_) return;
  } else {
    auto now = std::chrono::steady_clock::now();
    if (!index_dirty_ && now - index_built_ < kIndexRefresh) return;
    index_built_ = now;
  }
  events_since_build_ = 0;
  index_dirty_ = false;

  available_.clear();
  price_.clear();
  available_popularity_.clear();
  item_keys_.clear();
  category_of_.clear();
  category_number_.clear();
  category_items_.clear();
  learner_.catalog().for_each_available([&](const Item& item) {
    const size_t i = available_.size();
    available_.push_back(&item);
    price_.push_back(item.price);
    auto [it, fresh] = popularity_.try_emplace(item.item_id, -std::numeric_limits<double>::infinity());
    available_popularity_.push_back(&it->second);
    item_keys_.push_back(FeatureEncoder::item_keys(item.item_id, &item));
    auto [category, new_category] = category_number_.try_emplace(item.category, category_items_.size());
    if (new_category) category_items_.emplace_back();
    category_of_.push_back(category->second);
    category_items_[category->second].push_back(i);
  });
  chosen_.assign(available_.size(), 0);
  share_.assign(category_items_.size(), 0.0);
  recent_categories_.clear();

  const EmbeddingTable& table = learner_.table();
  const bool has_bias = learner_.config().bias_terms;
  item_matrix_.setZero(dim_, static_cast<Eigen::Index>(available_.size()));
  item_bias_.setZero(static_cast<Eigen::Index>(available_.size()));
  for (size_t c = 0; c < available_.size(); ++c) {
    uint32_t row = table.find(item_keys_[c].item);
    if (row == EmbeddingTable::kNoRow) continue;
    const float* w = table.row(row);
    item_matrix_.col(static_cast<Eigen::Index>(c)) = Eigen::Map<const Eigen::VectorXf>(w, dim_);
    if (has_bias) item_bias_(static_cast<Eigen::Index>(c)) = w[dim_];
  }
  snapshot_items(learner_, item_keys_, snapshot_);

  popular_.resize(available_.size());
  std::iota(popular_.begin(), popular_.end(), 0);
  size_t m = std::min<size_t>(popular_.size(), static_cast<size_t>(config_.popular_candidates));
  std::partial_sort(popular_.begin(), popular_.begin() + m, popular_.end(), [&](size_t a, size_t b) {
    double pa = *available_popularity_[a], pb = *available_popularity_[b];
    return pa != pb ? pa > pb : a < b;
  });
  popular_.resize(m);
}

void Ranker::select_best(size_t n) {
  // The n-th best key is found bit by bit, from the top: each step counts
  // the keys at or above a candidate threshold, a loop without branches the
  // compiler vectorizes. A sort-based selection mispredicts about half of
  // its comparisons and cost more than the model's matrix products here.
  by_affinity_.clear();
  if (n == 0) return;
  affinity_keys_.resize(static_cast<size_t>(affinity_.size()));
  for (size_t i = 0; i < affinity_keys_.size(); ++i) affinity_keys_[i] = float_order_key(affinity_(static_cast<Eigen::Index>(i)));
  auto at_least = [&](uint32_t t) {
    uint32_t count = 0;  // 32-bit lanes: twice the keys per instruction
    for (uint32_t k : affinity_keys_) count += k >= t;
    return size_t{count};
  };
  uint32_t nth = 0;
  for (int bit = 31; bit >= 0; --bit)
    if (uint32_t candidate = nth | (1u << bit); at_least(candidate) >= n) nth = candidate;
  // Everything above the n-th best, then ties at it by item number (as a
  // full sort by affinity, then item, would take them).
  size_t ties = n - (nth == UINT32_MAX ? 0 : at_least(nth + 1));
  for (size_t i = 0; i < affinity_keys_.size(); ++i) {
    uint32_t k = affinity_keys_[i];
    if (k > nth || (k == nth && ties > 0 && ties--)) by_affinity_.emplace_back(affinity_(static_cast<Eigen::Index>(i)), i);
  }
  std::sort(by_affinity_.begin(), by_affinity_.end(),
            [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
}

bool Ranker::query_vector(const std::string& user_id, const std::vector<std::string>& recent) {
  const EmbeddingTable& table = learner_.table();
  query_.setZero(dim_);
  bool found = false;
  uint32_t row = table.find(FeatureEncoder::user_key(user_id));
  if (row != EmbeddingTable::kNoRow) {
    query_ = Eigen::Map<const Eigen::VectorXf>(table.row(row), dim_);
    found = true;
  }
  // What the user clicked just now counts at once, before the model has
  // learned anything from it.
  clicked_.setZero(dim_);
  int clicked_rows = 0;
  for (const std::string& item : recent) {
    uint32_t r = table.find(FeatureEncoder::item_key(item));
    if (r == EmbeddingTable::kNoRow) continue;
    clicked_ += Eigen::Map<const Eigen::VectorXf>(table.row(r), dim_);
    ++clicked_rows;
  }
  if (clicked_rows > 0) {
    query_ += clicked_ / static_cast<float>(clicked_rows);
    found = true;
  }
  return found;
}

std::vector<std::pair<std::string, double>> Ranker::rank(const std::string& user_id,
                                                         const std::vector<std::string>& recent_clicks,
                                                         const std::vector<ContextFeature>& context,
                                                         int64_t /*ts_ms*/) {
  refresh_index();
  std::vector<std::pair<std::string, double>> ranking;
  if (available_.empty() || !query_vector(user_id, recent_clicks)) return ranking;

  // Retrieval: the best dot products, then the most popular, without repeats.
  affinity_ = item_matrix_.transpose() * query_ + item_bias_;
  const size_t n = std::min(available_.size(), static_cast<size_t>(config_.retrieval_candidates));
  select_best(n);
  candidates_.clear();
  for (const auto& [affinity, i] : by_affinity_) {
    candidates_.push_back(i);
    chosen_[i] = 1;
  }
  auto choose = [&](size_t i) {
    if (chosen_[i]) return;
    chosen_[i] = 1;
    candidates_.push_back(i);
  };
  for (size_t p : popular_) choose(p);

  // The categories the user just clicked, by share of the recent clicks
  // (only those with available items matter: they alone have candidates).
  for (const std::string& item : recent_clicks) {
    const Item* clicked = learner_.catalog().find(item);
    if (!clicked) continue;
    auto it = category_number_.find(clicked->category);
    if (it == category_number_.end()) continue;
    if (share_[it->second] == 0) recent_categories_.push_back(it->second);
    share_[it->second] += 1.0 / recent_clicks.size();
  }
  if (!recent_categories_.empty() && config_.category_candidates > 0) {
    same_category_.clear();  // available items of those categories, most popular first
    for (size_t category : recent_categories_)
      same_category_.insert(same_category_.end(), category_items_[category].begin(), category_items_[category].end());
    size_t m = std::min<size_t>(same_category_.size(), static_cast<size_t>(config_.category_candidates));
    std::partial_sort(same_category_.begin(), same_category_.begin() + m, same_category_.end(),
                      [&](size_t a, size_t b) {
                        double pa = *available_popularity_[a], pb = *available_popularity_[b];
                        return pa != pb ? pa > pb : a < b;
                      });
    for (size_t i = 0; i < m; ++i) choose(same_category_[i]);
  }

  // Rerank with the multi-task model, as if each were shown now.
  scorer_.score(user_id, context, recent_clicks, snapshot_, candidates_, batch_);

  const TaskSet& tasks = learner_.loss().tasks();
  int click = tasks.click_task, ctcvr = -1;
  for (int k = 0; k < tasks.size(); ++k)
    if (tasks.tasks[k].kind == TaskKind::kEsmm) ctcvr = k;
  scored_.clear();
  for (size_t j = 0; j < candidates_.size(); ++j) {
    const auto c = static_cast<Eigen::Index>(j);
    const size_t i = candidates_[j];
    double score = click >= 0 ? batch_.predictions(click, c) : 0.0;
    if (ctcvr >= 0) score += config_.value_weight * batch_.predictions(ctcvr, c) * price_[i];
    if (double share = share_[category_of_[i]]; share > 0) score *= 1 + config_.recent_category_boost * share;
    scored_.emplace_back(score, i);
  }
  size_t k = std::min<size_t>(scored_.size(), static_cast<size_t>(config_.top_k));
  std::partial_sort(scored_.begin(), scored_.begin() + k, scored_.end(), [&](auto& a, auto& b) {
    return a.first != b.first ? a.first > b.first : available_[a.second]->item_id < available_[b.second]->item_id;
  });
  ranking.reserve(k);
  for (size_t j = 0; j < k; ++j) ranking.emplace_back(available_[scored_[j].second]->item_id, scored_[j].first);

  for (size_t i : candidates_) chosen_[i] = 0;
  for (size_t category : recent_categories_) share_[category] = 0;
  recent_categories_.clear();
  return ranking;
}

}  // namespace streamrec::ranking
