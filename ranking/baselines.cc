#include "ranking/baselines.h"

#include <algorithm>
#include <limits>

#include "core/popularity.h"

namespace streamrec::ranking {

void PopularityIndex::add(const Event& event, const std::string& category) {
  const double increment = popularity_exponent(config_, event.type, event.ts_ms);
  if (increment == -std::numeric_limits<double>::infinity()) return;
  auto [it, fresh] = items_.try_emplace(event.item_id, Counted{-std::numeric_limits<double>::infinity(), category});
  std::set<Entry>& in_category = by_category_[it->second.category];
  if (!fresh) {
    overall_.erase(Entry{it->second.score, event.item_id});
    in_category.erase(Entry{it->second.score, event.item_id});
  }
  it->second.score = log2_sum(it->second.score, increment);
  overall_.insert(Entry{it->second.score, event.item_id});
  in_category.insert(Entry{it->second.score, event.item_id});
}

double PopularityIndex::score(const std::string& item) const {
  auto it = items_.find(item);
  return it == items_.end() ? -std::numeric_limits<double>::infinity() : it->second.score;
}

void PopularityIndex::top(size_t k, std::vector<std::string>& out) const {
  out.clear();
  for (auto it = overall_.begin(); it != overall_.end() && out.size() < k; ++it) out.push_back(it->item);
}

void PopularityIndex::top_in_category(const std::string& category, size_t k, std::vector<std::string>& out) const {
  out.clear();
  auto c = by_category_.find(category);
  if (c == by_category_.end()) return;
  for (auto it = c->second.begin(); it != c->second.end() && out.size() < k; ++it) out.push_back(it->item);
}

Baselines::Baselines(const PopularityConfig& popularity, const BaselineSettings& settings)
    : settings_(settings), popularity_(popularity),
      history_(std::max(settings.last_viewed, std::max(settings.covisit_sources, settings.covisit_window_items)), 0),
      covisits_(settings.covisit_window_items, settings.covisit_window_ms,
                CoVisitLimits{SIZE_MAX, SIZE_MAX}) {}  // the baseline counts without bounds

void Baselines::observe(const Event& event, const std::string& category) {
  ++seq_;
  popularity_.add(event, category);
  if (event.type == EventType::kClick || event.type == EventType::kPurchase) {
    CategoryCount& c = user_categories_[event.user_id][category];
    ++c.count;
    c.last_seen = seq_;
  }
  covisits_.observe(event, history_.find(event.user_id));
  history_.observe(event);
}

void Baselines::popular(size_t k, std::vector<std::string>& out) const { popularity_.top(k, out); }

void Baselines::last_viewed(const std::string& user, size_t k, std::vector<std::string>& out) const {
  out.clear();
  const UserHistory* h = history_.find(user);
  if (!h) return;
  const size_t n = std::min({k, settings_.last_viewed, h->viewed.size()});
  for (size_t i = 0; i < n; ++i) out.push_back(h->viewed[i].item_id);
}

void Baselines::top_category(const std::string& user, size_t k, std::vector<std::string>& out) const {
  out.clear();
  auto u = user_categories_.find(user);
  if (u == user_categories_.end()) return;
  const std::string* best = nullptr;
  CategoryCount top;
  for (const auto& [category, c] : u->second)
    if (!best || c.count > top.count || (c.count == top.count && c.last_seen > top.last_seen)) {
      best = &category;
      top = c;
    }
  popularity_.top_in_category(*best, k, out);
}

void Baselines::covisitation(const std::string& user, size_t k, std::vector<std::string>& out) const {
  out.clear();
  const UserHistory* h = history_.find(user);
  if (!h) return;
  std::unordered_map<std::string_view, uint64_t> sums;
  const size_t n = std::min(settings_.covisit_sources, h->viewed.size());
  for (size_t i = 0; i < n; ++i)
    if (const CoVisitation::Row* row = covisits_.row(h->viewed[i].item_id))
      for (const CoVisitation::Cell& cell : *row) sums[covisits_.item(cell.neighbour)] += cell.count;
  struct Scored {
    uint64_t sum;
    double popularity;
    std::string_view item;
  };
  std::vector<Scored> scored;
  scored.reserve(sums.size());
  for (const auto& [item, sum] : sums) scored.push_back({sum, popularity_.score(std::string(item)), item});
  const size_t m = std::min(k, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + m, scored.end(), [](const Scored& a, const Scored& b) {
    if (a.sum != b.sum) return a.sum > b.sum;
    if (a.popularity != b.popularity) return a.popularity > b.popularity;
    return a.item < b.item;
  });
  for (size_t i = 0; i < m; ++i) out.emplace_back(scored[i].item);
}

}  // namespace streamrec::ranking
