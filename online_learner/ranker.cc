#include "online_learner/ranker.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include "feature_store/feature_effects.h"
#include "online_learner/features.h"

namespace streamrec::learner {
namespace {
constexpr auto kIndexRefresh = std::chrono::milliseconds(1000);
}

Ranker::Ranker(const RankingConfig& config, const PopularityConfig& popularity, Learner& learner)
    : config_(config), popularity_config_(popularity), learner_(learner),
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
  if (!learner_.catalog().find(event.item_id)) return;  // not in the catalog: never a candidate
  // The same score sr:pop keeps (feature_store/feature_effects.h).
  auto [it, fresh] = popularity_.try_emplace(event.item_id, -std::numeric_limits<double>::infinity());
  it->second = log2_sum(it->second, popularity_exponent(popularity_config_, event.type, event.ts_ms));
}

void Ranker::refresh_index() {
  auto now = std::chrono::steady_clock::now();
  if (!index_dirty_ && now - index_built_ < kIndexRefresh) return;
  index_built_ = now;
  index_dirty_ = false;

  available_.clear();
  available_popularity_.clear();
  learner_.catalog().for_each_available([&](const Item& item) {
    available_.push_back(&item);
    auto [it, fresh] = popularity_.try_emplace(item.item_id, -std::numeric_limits<double>::infinity());
    available_popularity_.push_back(&it->second);
  });

  const EmbeddingTable& table = learner_.table();
  const bool has_bias = learner_.config().bias_terms;
  item_matrix_.setZero(dim_, static_cast<Eigen::Index>(available_.size()));
  item_bias_.setZero(static_cast<Eigen::Index>(available_.size()));
  for (size_t c = 0; c < available_.size(); ++c) {
    uint32_t row = table.find(FeatureEncoder::item_key(available_[c]->item_id));
    if (row == EmbeddingTable::kNoRow) continue;
    const float* w = table.row(row);
    item_matrix_.col(static_cast<Eigen::Index>(c)) = Eigen::Map<const Eigen::VectorXf>(w, dim_);
    if (has_bias) item_bias_(static_cast<Eigen::Index>(c)) = w[dim_];
  }

  popular_.resize(available_.size());
  std::iota(popular_.begin(), popular_.end(), 0);
  size_t m = std::min<size_t>(popular_.size(), static_cast<size_t>(config_.popular_candidates));
  std::partial_sort(popular_.begin(), popular_.begin() + m, popular_.end(), [&](size_t a, size_t b) {
    double pa = *available_popularity_[a], pb = *available_popularity_[b];
    return pa != pb ? pa > pb : a < b;
  });
  popular_.resize(m);
}

bool Ranker::query_vector(const std::string& user_id, const std::vector<std::string>& recent,
                          Eigen::VectorXf& query) const {
  const EmbeddingTable& table = learner_.table();
  query.setZero(dim_);
  bool found = false;
  uint32_t row = table.find(FeatureEncoder::user_key(user_id));
  if (row != EmbeddingTable::kNoRow) {
    query = Eigen::Map<const Eigen::VectorXf>(table.row(row), dim_);
    found = true;
  }
  // What the user clicked just now counts at once, before the model has
  // learned anything from it.
  Eigen::VectorXf clicked = Eigen::VectorXf::Zero(dim_);
  int clicked_rows = 0;
  for (const std::string& item : recent) {
    uint32_t r = table.find(FeatureEncoder::item_key(item));
    if (r == EmbeddingTable::kNoRow) continue;
    clicked += Eigen::Map<const Eigen::VectorXf>(table.row(r), dim_);
    ++clicked_rows;
  }
  if (clicked_rows > 0) {
    query += clicked / static_cast<float>(clicked_rows);
    found = true;
  }
  return found;
}

std::vector<std::pair<std::string, double>> Ranker::rank(const std::string& user_id,
                                                         const std::vector<std::string>& recent_clicks,
                                                         const std::vector<ContextFeature>& context, int64_t ts_ms) {
  refresh_index();
  std::vector<std::pair<std::string, double>> ranking;
  Eigen::VectorXf query;
  if (available_.empty() || !query_vector(user_id, recent_clicks, query)) return ranking;

  // Retrieval: the best dot products, then the most popular, without repeats.
  Eigen::VectorXf affinity = item_matrix_.transpose() * query + item_bias_;
  std::vector<size_t> order(available_.size());
  std::iota(order.begin(), order.end(), 0);
  size_t n = std::min<size_t>(order.size(), static_cast<size_t>(config_.retrieval_candidates));
  std::partial_sort(order.begin(), order.begin() + n, order.end(), [&](size_t a, size_t b) {
    float fa = affinity(static_cast<Eigen::Index>(a)), fb = affinity(static_cast<Eigen::Index>(b));
    return fa != fb ? fa > fb : a < b;
  });
  order.resize(n);
  std::unordered_set<size_t> chosen(order.begin(), order.end());
  for (size_t p : popular_)
    if (chosen.insert(p).second) order.push_back(p);

  // The categories the user just clicked, by share of the recent clicks.
  std::unordered_map<std::string, double> recent_share;
  for (const std::string& item : recent_clicks)
    if (const Item* clicked = learner_.catalog().find(item)) recent_share[clicked->category] += 1.0 / recent_clicks.size();
  if (!recent_share.empty() && config_.category_candidates > 0) {
    std::vector<size_t> same;  // available items of those categories, most popular first
    for (size_t i = 0; i < available_.size(); ++i)
      if (recent_share.count(available_[i]->category)) same.push_back(i);
    size_t m = std::min<size_t>(same.size(), static_cast<size_t>(config_.category_candidates));
    std::partial_sort(same.begin(), same.begin() + m, same.end(), [&](size_t a, size_t b) {
      double pa = *available_popularity_[a], pb = *available_popularity_[b];
      return pa != pb ? pa > pb : a < b;
    });
    for (size_t i = 0; i < m; ++i)
      if (chosen.insert(same[i]).second) order.push_back(same[i]);
  }

  // Rerank with the multi-task model, as if each were shown now.
  candidates_.resize(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    Sample& s = candidates_[i];
    s.event_id.clear();
    s.user_id = user_id;
    s.item_id = available_[order[i]]->item_id;
    s.ts_ms = ts_ms;
    s.context = context;
    s.recent_clicks = recent_clicks;
  }
  learner_.prepare(candidates_, batch_, /*observe=*/false);
  learner_.score(batch_);

  const TaskSet& tasks = learner_.loss().tasks();
  int click = tasks.click_task, ctcvr = -1;
  for (int k = 0; k < tasks.size(); ++k)
    if (tasks.tasks[k].kind == TaskKind::kEsmm) ctcvr = k;
  ranking.reserve(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    const auto c = static_cast<Eigen::Index>(i);
    double score = click >= 0 ? batch_.predictions(click, c) : 0.0;
    const Item& item = *available_[order[i]];
    if (ctcvr >= 0) score += config_.value_weight * batch_.predictions(ctcvr, c) * item.price;
    if (auto it = recent_share.find(item.category); it != recent_share.end())
      score *= 1 + config_.recent_category_boost * it->second;
    ranking.emplace_back(candidates_[i].item_id, score);
  }
  size_t k = std::min<size_t>(ranking.size(), static_cast<size_t>(config_.top_k));
  std::partial_sort(ranking.begin(), ranking.begin() + k, ranking.end(),
                    [](auto& a, auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  ranking.resize(k);
  return ranking;
}

}  // namespace streamrec::learner
