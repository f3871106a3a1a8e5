#include "ranking/ranker.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>
#include <optional>

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
constexpr size_t kBoughtRemembered = 100;  // per user, for the re-consumption policy
constexpr size_t kNoBrand = SIZE_MAX;
// The best candidates of a served ranking kept for the learned blend: the
// top 100 is where a click can move the top K from.
constexpr size_t kServedKept = 100;
constexpr double kFreshViewMs = 30 * 60 * 1000.0;
constexpr double kLeastModelScore = 1e-6;
// The exposure feature's floor (ln e^-10): an item shown about 20,000 times
// less than the most exposed candidate, or never, counts as that.
constexpr double kLeastExposure = -10;

size_t viewed_capacity(const RankingConfig& c) {
  return static_cast<size_t>(std::max({c.recent_candidates, c.covisit_sources, c.covisit_window_items}));
}
}  // namespace

const char* source_name(CandidateSource source) {
  switch (source) {
    case CandidateSource::kRecent: return "recent";
    case CandidateSource::kCovisit: return "covisit";
    case CandidateSource::kCategory: return "category";
    case CandidateSource::kBrand: return "brand";
    case CandidateSource::kRetrieval: return "retrieval";
    case CandidateSource::kPopular: return "popular";
  }
  return "?";
}

Ranker::Ranker(const RankingConfig& config, const PopularityConfig& popularity, const Learner& learner)
    : config_(config), popularity_config_(popularity), learner_(learner), scorer_(learner),
      dim_(static_cast<int>(learner.config().embedding_dim)),
      history_(viewed_capacity(config), kBoughtRemembered, static_cast<size_t>(learner.config().max_users)),
      covisits_(static_cast<size_t>(config.covisit_window_items), config.covisit_window_s * 1000,
                CoVisitLimits{static_cast<size_t>(config.covisit_max_neighbours),
                              static_cast<size_t>(config.covisit_max_items)}),
      learned_blend_(config.blend == "learned"), blend_(static_cast<size_t>(config.blend_window)) {}

void Ranker::save(ByteWriter& out) const {
  std::vector<const std::pair<const std::string, ItemCounts>*> entries;
  for (auto& entry : popularity_) entries.push_back(&entry);
  std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });  // deterministic bytes
  out.u64(entries.size());
  for (auto* entry : entries) {
    out.str(entry->first);
    out.f64(entry->second.popularity);
    out.f64(entry->second.exposure);
  }
  history_.save(out);
  covisits_.save(out);
  blend_.save(out);
}

bool Ranker::load(ByteReader& in, bool blend_examples) {
  popularity_.clear();
  uint64_t n = in.u64();
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    std::string id = in.str();
    ItemCounts& c = popularity_[id];
    c.popularity = in.f64();
    c.exposure = in.f64();
  }
  index_dirty_ = true;
  return in.ok() && history_.load(in) && covisits_.load(in) && blend_.load(in, blend_examples);
}

void Ranker::add_event(const Event& event) {
  if (event.type == EventType::kForget) {
    erase_user(event.user_id);
    return;
  }
  ++events_since_build_;
  if (event.type == EventType::kClick && learned_blend_) learn_click(event);
  covisits_.observe(event, history_.find(event.user_id));
  history_.observe(event);
  if (!learner_.catalog().find(event.item_id)) return;  // not in the catalog: never a candidate
  // The same score sr:pop keeps (feature_store/feature_effects.h).
  ItemCounts& counts = popularity_[event.item_id];
  counts.popularity = log2_sum(counts.popularity, popularity_exponent(popularity_config_, event.type, event.ts_ms));
  // The index's numbers hold until the catalog changes (then the next
  // refresh rebuilds it, groups and all).
  if (counts.number != kNotAvailable && !index_dirty_ && learner_.catalog().changes() == catalog_changes_) {
    categories_.noted(counts.number);
    brands_.noted(counts.number);
  }
  if (event.type == EventType::kImpression)
    counts.exposure = log2_sum(counts.exposure, static_cast<double>(event.ts_ms) / 1000.0 / popularity_config_.half_life_s);
}

void Ranker::refresh_index() {
  const bool catalog_changed = index_dirty_ || learner_.catalog().changes() != catalog_changes_;
  if (rebuild_every_events_ > 0) {
    if (!catalog_changed && events_since_build_ < rebuild_every_events_) return;
  } else {
    auto now = std::chrono::steady_clock::now();
    if (!catalog_changed && now - index_built_ < kIndexRefresh) return;
    index_built_ = now;
  }
  events_since_build_ = 0;
  // Most refreshes find the catalog as it was: only the model's part moves.
  if (catalog_changed) rebuild_catalog_index();

  const EmbeddingTable& table = learner_.table();
  const bool has_bias = learner_.config().bias_terms;
  const auto n = static_cast<Eigen::Index>(available_.size());
  if (item_matrix_.cols() != n) item_matrix_.resize(dim_, n);
  if (item_bias_.size() != n) item_bias_.resize(n);
  items_with_rows_ = 0;
  for (Eigen::Index c = 0; c < n; ++c) {
    uint32_t row = table.find(item_keys_[static_cast<size_t>(c)].item);
    if (row == EmbeddingTable::kNoRow) {
      item_matrix_.col(c).setZero();
      item_bias_(c) = 0;
      continue;
    }
    ++items_with_rows_;
    const float* w = table.row(row);
    item_matrix_.col(c) = Eigen::Map<const Eigen::VectorXf>(w, dim_);
    item_bias_(c) = has_bias ? w[dim_] : 0.0f;
  }
  snapshot_items(learner_, item_keys_, snapshot_);

  popular_.resize(available_.size());
  std::iota(popular_.begin(), popular_.end(), 0);
  popular_.resize(most_popular_first(popular_, static_cast<size_t>(config_.popular_candidates)));
  // Leaders enough for the category and brand sources to find their
  // candidates among them unless the user's own items are most of them.
  constexpr size_t kLeadersBeyond = 128;
  categories_.refresh(available_popularity_, static_cast<size_t>(config_.category_candidates) + kLeadersBeyond);
  brands_.refresh(available_popularity_, static_cast<size_t>(config_.brand_candidates) + kLeadersBeyond);
  maintain_retrieval_index();
}

bool Ranker::uses_retrieval_index() const {
  return config_.approximate_retrieval_items > 0 &&
         available_.size() >= static_cast<size_t>(config_.approximate_retrieval_items);
}

void Ranker::maintain_retrieval_index() {
  retrieval_index_.take_finished();
  if (!uses_retrieval_index()) return;
  // By the clock, at most a tenth of a core on rebuilds: a catalog whose
  // build takes a minute is rebuilt every ten at the soonest. (A replay's
  // schedule must not depend on the machine: every rebuild_s refreshes.)
  const bool replay = rebuild_every_events_ > 0;
  const double least = replay ? 0 : 10 * retrieval_index_.build_seconds();
  const double every = std::max(static_cast<double>(config_.approximate_retrieval_rebuild_s), least);
  // Sooner while the items with an embedding have doubled since the last
  // build (a learner's first minutes: built at its start, the graph holds
  // few), within the same tenth of a core.
  ++refreshes_since_retrieval_build_;
  const bool grown =
      items_with_rows_ >= 2 * retrieval_index_.items() + 1000 && refreshes_since_retrieval_build_ >= least;
  if (retrieval_index_.ready() && refreshes_since_retrieval_build_ < every && !grown) return;
  if (retrieval_index_.building()) return;
  // The embeddings of the moment: each column one item's, its bias under
  // it. Items without a row (all zero, every one the same point) stay out:
  // they score 0 for any query, and thousands of equal points would only
  // crowd the graph.
  std::vector<Eigen::Index> rows;
  for (Eigen::Index c = 0; c < item_matrix_.cols(); ++c)
    if (item_bias_(c) != 0 || !item_matrix_.col(c).isZero()) rows.push_back(c);
  Eigen::MatrixXf vectors(item_matrix_.rows() + 1, static_cast<Eigen::Index>(rows.size()));
  std::vector<std::string> ids;
  ids.reserve(rows.size());
  for (size_t k = 0; k < rows.size(); ++k) {
    vectors.col(static_cast<Eigen::Index>(k)) << item_matrix_.col(rows[k]), item_bias_(rows[k]);
    ids.push_back(available_[static_cast<size_t>(rows[k])]->item_id);
  }
  refreshes_since_retrieval_build_ = 0;
  // A replay refreshes by events and must not depend on a thread's timing.
  if (rebuild_every_events_ > 0) retrieval_index_.build_now(std::move(ids), std::move(vectors));
  else retrieval_index_.start_build(std::move(ids), std::move(vectors));
}

void Ranker::search_retrieval_index(size_t n) {
  // Twice as many as wanted by the build's embeddings, the best by today's.
  found_.clear();
  retrieval_index_.search(query_, 2 * n, found_);
  by_affinity_.clear();
  for (const auto& [old_score, id] : found_)
    if (auto i = number(*id))
      by_affinity_.emplace_back(item_matrix_.col(static_cast<Eigen::Index>(*i)).dot(query_) + item_bias_(static_cast<Eigen::Index>(*i)), *i);
  std::sort(by_affinity_.begin(), by_affinity_.end(),
            [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  if (by_affinity_.size() > n) by_affinity_.resize(n);
}

void Ranker::rebuild_catalog_index() {
  index_dirty_ = false;
  ++index_builds_;
  catalog_changes_ = learner_.catalog().changes();
  available_.clear();
  price_.clear();
  available_popularity_.clear();
  available_exposure_.clear();
  item_keys_.clear();
  category_of_.clear();
  brand_of_.clear();
  category_number_.clear();
  item_number_.clear();
  brand_number_.clear();
  categories_.clear(learner_.catalog().size());
  brands_.clear(learner_.catalog().size());
  for (auto& entry : popularity_) entry.second.number = kNotAvailable;
  learner_.catalog().for_each_available([&](const Item& item) {
    const size_t i = available_.size();
    available_.push_back(&item);
    price_.push_back(item.price);
    ItemCounts& counts = popularity_[item.item_id];
    counts.number = i;
    available_popularity_.push_back(&counts.popularity);
    available_exposure_.push_back(&counts.exposure);
    item_keys_.push_back(FeatureEncoder::item_keys(item.item_id, &item));
    item_number_.emplace(item.item_id, i);
    auto [category, new_category] = category_number_.try_emplace(item.category, categories_.groups());
    if (new_category) categories_.add_group();
    category_of_.push_back(category->second);
    categories_.add(category->second, i);
    brand_of_.push_back(kNoBrand);
    if (!item.brand.empty()) {
      auto [brand, new_brand] = brand_number_.try_emplace(item.brand, brands_.groups());
      if (new_brand) brands_.add_group();
      brands_.add(brand->second, i);
      brand_of_.back() = brand->second;
    }
  });
  // Items the catalog evicted (learner.max_items) are gone here too: only
  // the catalog's items have popularity, so a larger map means some were.
  // (Erasing them leaves the pointers just taken to the others valid.)
  if (popularity_.size() > learner_.catalog().size())
    std::erase_if(popularity_, [&](const auto& entry) { return !learner_.catalog().find(entry.first); });
  chosen_.assign(available_.size(), 0);
  recency_.assign(available_.size(), 0.0);
  covisits_of_.assign(available_.size(), 0.0);
  viewed_.assign(available_.size(), nullptr);
  share_.assign(categories_.groups(), 0.0);
  brand_taken_.assign(brands_.groups(), 0);
  recent_categories_.clear();
}

size_t Ranker::most_popular_first(std::vector<size_t>& items, size_t n) {
  // By value, not through the pointers: the comparisons then read one flat
  // array, and nth_element + sort of the n does fewer of them than a heap of
  // n over all (a category source chooses 200 of thousands). The order is
  // total (popularity, then number), so the result is the partial_sort's.
  n = std::min(n, items.size());
  by_popularity_.clear();
  for (size_t i : items) by_popularity_.emplace_back(*available_popularity_[i], i);
  auto more_popular = [](const std::pair<double, size_t>& a, const std::pair<double, size_t>& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  if (n < by_popularity_.size())
    std::nth_element(by_popularity_.begin(), by_popularity_.begin() + static_cast<std::ptrdiff_t>(n),
                     by_popularity_.end(), more_popular);
  std::sort(by_popularity_.begin(), by_popularity_.begin() + static_cast<std::ptrdiff_t>(n), more_popular);
  for (size_t k = 0; k < n; ++k) items[k] = by_popularity_[k].second;
  return n;
}

void Ranker::select_best(size_t n) {
  // One pass: an item is kept only when its key reaches `least`, the key the
  // n-th best kept so far beats (ties go to the lower item number, as a full
  // sort would order them, and items come in ascending number); the kept
  // ones are cut back to the n best whenever they reach 4n. After the first
  // few thousand items almost no block of 64 has an item that reaches it,
  // and a block is ruled out by a loop the compiler vectorizes. (A
  // bit-by-bit search of the n-th key took 32 passes over all the keys.)
  by_affinity_.clear();
  best_keys_.clear();
  if (n == 0) return;
  const size_t items = static_cast<size_t>(affinity_.size());
  affinity_keys_.resize(items);
  for (size_t i = 0; i < items; ++i) affinity_keys_[i] = float_order_key(affinity_(static_cast<Eigen::Index>(i)));
  auto better = [](const std::pair<uint32_t, uint32_t>& a, const std::pair<uint32_t, uint32_t>& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  const size_t cut_at = 4 * n;
  constexpr size_t kBlock = 64;
  uint32_t least = 0;
  bool closed = false;  // the n kept all have the largest key: nothing later beats them
  for (size_t b = 0; b < items && !closed; b += kBlock) {
    const size_t e = std::min(items, b + kBlock);
    uint32_t reaches = 0;
    for (size_t i = b; i < e; ++i) reaches |= affinity_keys_[i] >= least ? 1u : 0u;
    if (!reaches) continue;
    for (size_t i = b; i < e; ++i) {
      if (affinity_keys_[i] < least) continue;
      best_keys_.emplace_back(affinity_keys_[i], static_cast<uint32_t>(i));
      if (best_keys_.size() < cut_at) continue;
      std::nth_element(best_keys_.begin(), best_keys_.begin() + static_cast<std::ptrdiff_t>(n - 1), best_keys_.end(),
                       better);
      best_keys_.resize(n);
      const uint32_t nth = best_keys_[n - 1].first;  // the least key kept
      if (nth == UINT32_MAX) {
        closed = true;
        break;
      }
      least = nth + 1;
    }
  }
  if (best_keys_.size() > n) {
    std::nth_element(best_keys_.begin(), best_keys_.begin() + static_cast<std::ptrdiff_t>(n - 1), best_keys_.end(),
                     better);
    best_keys_.resize(n);
  }
  for (const auto& [key, i] : best_keys_) by_affinity_.emplace_back(affinity_(static_cast<Eigen::Index>(i)), i);
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

void Ranker::choose(size_t i, CandidateSource source) {
  if (chosen_[i]) return;
  chosen_[i] = 1;
  candidates_.push_back(i);
  candidate_sources_.push_back(source);
}

std::optional<size_t> Ranker::number(const std::string& item) const {
  auto it = item_number_.find(item);
  if (it == item_number_.end()) return std::nullopt;
  return it->second;
}

// A ranking walks a few hundred co-visited neighbours: each is looked up by
// its id once per index build (or when its number names a new item), not
// once per ranking.
std::optional<size_t> Ranker::number(CoVisitation::Key key) {
  if (key >= key_numbers_.size()) key_numbers_.resize(key + 1);
  KeyNumber& known = key_numbers_[key];
  if (known.build != index_builds_ || known.stamp != covisits_.stamp(key))
    known = {covisits_.stamp(key), index_builds_, number(covisits_.item(key)).value_or(kNotAvailable)};
  if (known.number == kNotAvailable) return std::nullopt;
  return known.number;
}

void Ranker::history_candidates(const UserHistory& history) {
  auto exclude = [&](const std::string& item) {
    if (auto i = number(item); i && !chosen_[*i]) {
      chosen_[*i] = 1;
      excluded_.push_back(*i);
    }
  };
  if (!config_.reshow_viewed)
    for (const ViewedItem& v : history.viewed) exclude(v.item_id);
  if (!config_.reshow_bought)
    for (const std::string& b : history.bought) exclude(b);

  const size_t recent = std::min(history.viewed.size(), static_cast<size_t>(config_.recent_candidates));
  for (size_t p = 0; p < recent; ++p)
    if (auto i = number(history.viewed[p].item_id); i && !chosen_[*i]) {
      recency_[*i] = 1.0 / (1.0 + static_cast<double>(p));
      viewed_[*i] = &history.viewed[p];
      boosted_.push_back(*i);
      choose(*i, CandidateSource::kRecent);
    }

  // Co-visits with the p-th newest viewed item count 1/(1 + p), as the
  // recent source's recency does: what the user viewed last says most about
  // what they view next (on the development runs without categories, summed
  // counts gave 1.74x and 1.40x the best baseline's new-item hit rate, these
  // 1.87x and 1.64x; docs/evaluation.md).
  const size_t sources = std::min(history.viewed.size(), static_cast<size_t>(config_.covisit_sources));
  for (size_t p = 0; p < sources; ++p) {
    const CoVisitation::Row* row = covisits_.row(history.viewed[p].item_id);
    if (!row) continue;
    const double weight = 1.0 / (1.0 + static_cast<double>(p));
    for (const CoVisitation::Cell& cell : *row)
      if (auto i = number(cell.neighbour)) {
        if (covisits_of_[*i] == 0 && recency_[*i] == 0) boosted_.push_back(*i);  // not listed yet
        covisits_of_[*i] += weight * cell.count;
      }
  }
  covisit_second_step(history, sources);
  covisited_items(/*chosen_too=*/false, covisited_);
  const size_t m = std::min(covisited_.size(), static_cast<size_t>(config_.covisit_candidates));
  std::partial_sort(covisited_.begin(), covisited_.begin() + m, covisited_.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first > b.first;
    double pa = *available_popularity_[a.second], pb = *available_popularity_[b.second];
    return pa != pb ? pa > pb : a.second < b.second;
  });
  for (size_t j = 0; j < m; ++j) choose(covisited_[j].second, CandidateSource::kCovisit);
}

// No sort: each caller picks its best with a total order (ties by index),
// so the order boosted_ lists them in changes nothing.
void Ranker::covisited_items(bool chosen_too, std::vector<std::pair<double, size_t>>& out) const {
  out.clear();
  for (size_t i : boosted_)
    if (covisits_of_[i] > 0 && (chosen_too || !chosen_[i])) out.emplace_back(covisits_of_[i], i);
}

// Co-visits are sparse: on a short log most items the user views next were
// never viewed together with their last few. One more step of the walk finds
// items viewed with what was viewed with them: each of the
// `covisit_second_step` items most co-visited so far passes its weight on to
// its own neighbours, in proportion to their share of its co-visits, at half
// strength (a first-step count of 1 outweighs a second-step share of it).
// The walk does not come back to the items it started from: the user's own
// items are the recent source's, and a return would only echo the first step.
void Ranker::covisit_second_step(const UserHistory& history, size_t sources) {
  constexpr double kStrength = 0.5;
  first_step_.clear();
  if (config_.covisit_second_step <= 0) return;
  covisited_items(/*chosen_too=*/true, first_step_);
  walk_sources_.clear();  // the user's items, as indices: compared per neighbour below
  for (size_t p = 0; p < sources; ++p)
    if (auto i = number(history.viewed[p].item_id)) walk_sources_.push_back(*i);
  const size_t m = std::min(first_step_.size(), static_cast<size_t>(config_.covisit_second_step));
  std::partial_sort(first_step_.begin(), first_step_.begin() + m, first_step_.end(),
                    [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  first_step_.resize(m);
  for (const auto& [weight, i] : first_step_) {
    const CoVisitation::Row* row = covisits_.row(available_[i]->item_id);
    if (!row) continue;
    double total = 0;
    for (const CoVisitation::Cell& cell : *row) total += cell.count;
    for (const CoVisitation::Cell& cell : *row) {
      auto j = number(cell.neighbour);
      if (!j || std::find(walk_sources_.begin(), walk_sources_.end(), *j) != walk_sources_.end()) continue;
      if (covisits_of_[*j] == 0 && recency_[*j] == 0) boosted_.push_back(*j);  // not listed yet
      covisits_of_[*j] += kStrength * weight * cell.count / total;
    }
  }
}

std::vector<std::pair<std::string, double>> Ranker::rank(const std::string& user_id,
                                                         const std::vector<std::string>& recent_clicks,
                                                         const std::vector<ContextFeature>& context,
                                                         int64_t ts_ms, std::vector<Explanation>* why) {
  refresh_index();
  if (why) why->clear();
  candidates_.clear();
  candidate_sources_.clear();
  std::vector<std::pair<std::string, double>> ranking;
  if (available_.empty()) return ranking;
  const UserHistory* history = history_.find(user_id);
  const bool has_query = query_vector(user_id, recent_clicks);
  if (!has_query && !history) return ranking;

  // The user's own items and what was viewed with them (and what the
  // re-consumption policy leaves out of every source).
  if (history) history_candidates(*history);

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
    group_top_.clear();  // available items of those categories, not yet chosen, most popular first
    categories_.most_popular(recent_categories_, static_cast<size_t>(config_.category_candidates), chosen_, group_top_);
    for (size_t i : group_top_) choose(i, CandidateSource::kCategory);
  }

  // The brands the user just clicked: their most popular available items.
  if (config_.brand_candidates > 0 && brands_.groups() > 0) {
    for (const std::string& item : recent_clicks) {
      const Item* clicked = learner_.catalog().find(item);
      if (!clicked || clicked->brand.empty()) continue;
      auto it = brand_number_.find(clicked->brand);
      if (it == brand_number_.end() || brand_taken_[it->second]) continue;
      brand_taken_[it->second] = 1;
      recent_brands_.push_back(it->second);
    }
    group_top_.clear();  // available items of those brands, not yet chosen, most popular first
    brands_.most_popular(recent_brands_, static_cast<size_t>(config_.brand_candidates), chosen_, group_top_);
    for (size_t i : group_top_) choose(i, CandidateSource::kBrand);
  }

  // Retrieval: the best dot products, then the most popular, without repeats.
  if (has_query) {
    const size_t n = std::min(available_.size(), static_cast<size_t>(config_.retrieval_candidates));
    if (uses_retrieval_index() && retrieval_index_.ready()) {
      search_retrieval_index(n);
    } else {
      affinity_ = item_matrix_.transpose() * query_ + item_bias_;
      select_best(n);
    }
    for (const auto& [affinity, i] : by_affinity_) choose(i, CandidateSource::kRetrieval);
  }
  for (size_t p : popular_) choose(p, CandidateSource::kPopular);

  if (!candidates_.empty()) {
    // Rerank with the multi-task model, as if each were shown now.
    scorer_.score(user_id, context, recent_clicks, snapshot_, candidates_, batch_);
    const TaskSet& tasks = learner_.loss().tasks();
    int click = tasks.click_task, ctcvr = -1;
    for (int k = 0; k < tasks.size(); ++k)
      if (tasks.tasks[k].kind == TaskKind::kEsmm) ctcvr = k;
    double most_covisits = 0;
    for (size_t i : candidates_) most_covisits = std::max(most_covisits, covisits_of_[i]);
    scored_.clear();
    if (learned_blend_) {
      candidate_features(most_covisits, click, ctcvr, ts_ms);
      for (size_t j = 0; j < candidates_.size(); ++j)
        scored_.emplace_back(std::exp(std::clamp(blend_.log_score(features_[j]), -300.0, 300.0)), j);
    } else {
      for (size_t j = 0; j < candidates_.size(); ++j) {
        const auto c = static_cast<Eigen::Index>(j);
        const size_t i = candidates_[j];
        double score = click >= 0 ? batch_.predictions(click, c) : 0.0;
        if (ctcvr >= 0) score += config_.value_weight * batch_.predictions(ctcvr, c) * price_[i];
        if (double share = share_[category_of_[i]]; share > 0) score *= 1 + config_.recent_category_boost * share;
        double boost = config_.recent_boost * recency_[i];
        if (most_covisits > 0) boost += config_.covisit_boost * covisits_of_[i] / most_covisits;
        score *= 1 + boost;
        scored_.emplace_back(score, j);
      }
    }
    auto better = [&](auto& a, auto& b) {
      return a.first != b.first ? a.first > b.first
                                : available_[candidates_[a.second]]->item_id < available_[candidates_[b.second]]->item_id;
    };
    size_t k = std::min<size_t>(scored_.size(), static_cast<size_t>(config_.top_k));
    bool keep_served = learned_blend_ && config_.blend_served_users > 0;
    if (keep_served && !knows_the_same_clicks(history, recent_clicks)) {
      keep_served = false;
      ++blend_rankings_out_of_step_;
    }
    blend_rankings_kept_ += keep_served;
    const size_t kept = keep_served ? std::max(k, std::min(scored_.size(), kServedKept)) : k;
    if (kept < scored_.size()) std::nth_element(scored_.begin(), scored_.begin() + kept, scored_.end(), better);
    std::partial_sort(scored_.begin(), scored_.begin() + k, scored_.begin() + kept, better);
    if (keep_served) remember_served(user_id, kept);
    ranking.reserve(k);
    for (size_t j = 0; j < k; ++j) {
      ranking.emplace_back(available_[candidates_[scored_[j].second]]->item_id, scored_[j].first);
      ++top_k_sources_[static_cast<size_t>(candidate_sources_[scored_[j].second])];
    }
    if (why) explain(k, recent_clicks, history, click, ctcvr, most_covisits, *why);
  }

  for (size_t i : candidates_) chosen_[i] = 0;
  for (size_t i : excluded_) chosen_[i] = 0;
  excluded_.clear();
  for (size_t i : boosted_) {
    recency_[i] = covisits_of_[i] = 0;
    viewed_[i] = nullptr;
  }
  boosted_.clear();
  for (size_t brand : recent_brands_) brand_taken_[brand] = 0;
  recent_brands_.clear();
  for (size_t category : recent_categories_) share_[category] = 0;
  recent_categories_.clear();
  return ranking;
}

std::optional<CandidateSource> Ranker::candidate_source(const std::string& item_id) const {
  auto it = item_number_.find(item_id);
  if (it == item_number_.end()) return std::nullopt;
  for (size_t j = 0; j < candidates_.size(); ++j)
    if (candidates_[j] == it->second) return candidate_sources_[j];
  return std::nullopt;
}

void Ranker::explain(size_t k, const std::vector<std::string>& recent_clicks, const UserHistory* history, int click,
                     int ctcvr, double most_covisits, std::vector<Explanation>& why) const {
  constexpr size_t kMostBecause = 3;
  const double nan = std::nan("");
  why.reserve(k);
  // What the co-visit walk went through, as rows and numbers: the user's
  // items it started from, and the first step's items (via) it went on from.
  const size_t sources = history ? std::min(history->viewed.size(), static_cast<size_t>(config_.covisit_sources)) : 0;
  std::vector<const CoVisitation::Row*> source_rows, via_rows;
  std::vector<uint8_t> linked;  // [p * vias + v]: the user's p-th item co-visited via v
  for (size_t p = 0; p < sources; ++p) source_rows.push_back(covisits_.row(history->viewed[p].item_id));
  std::vector<CoVisitation::Key> via_keys;
  for (const auto& step : first_step_) via_keys.push_back(covisits_.key(available_[step.second]->item_id));
  for (CoVisitation::Key via : via_keys) via_rows.push_back(covisits_.row(via));
  const size_t vias = via_keys.size();
  for (size_t p = 0; p < sources; ++p)
    for (CoVisitation::Key via : via_keys) linked.push_back(CoVisitation::count(source_rows[p], via) > 0);
  std::vector<uint8_t> reaches(vias);  // per item below: via v co-visited it
  for (size_t j = 0; j < k; ++j) {
    const size_t candidate = scored_[j].second;
    const auto c = static_cast<Eigen::Index>(candidate);
    const size_t i = candidates_[candidate];
    const Item& item = *available_[i];
    Explanation& e = why.emplace_back();
    e.source = source_name(candidate_sources_[candidate]);
    e.category = item.category;
    e.category_share = share_[category_of_[i]];
    e.pctr = click >= 0 ? batch_.predictions(click, c) : nan;
    const double pctcvr = ctcvr >= 0 ? batch_.predictions(ctcvr, c) : nan;
    e.pcvr = click >= 0 && ctcvr >= 0 && e.pctr > 0 ? pctcvr / e.pctr : nan;
    // The same terms as rank()'s score, one by one.
    e.model_score = (click >= 0 ? e.pctr : 0) + (ctcvr >= 0 ? config_.value_weight * pctcvr * price_[i] : 0);
    if (learned_blend_) {
      // exp(w · x) split the same way: the learned category and brand
      // terms, and everything else the model's score does not say (the
      // user's items, co-visits, popularity, the learned weight of the
      // model's score itself), so that the three still multiply to it.
      const BlendFeatures& x = features_[candidate];
      const auto& w = blend_.weights();
      e.category_factor = std::exp(w[kCategoryShare] * x[kCategoryShare] + w[kBrandMatch] * x[kBrandMatch]);
      e.history_factor = e.model_score > 0 ? scored_[j].first / (e.model_score * e.category_factor) : 1;
    } else {
      e.category_factor = e.category_share > 0 ? 1 + config_.recent_category_boost * e.category_share : 1;
      double boost = config_.recent_boost * recency_[i];
      if (most_covisits > 0) boost += config_.covisit_boost * covisits_of_[i] / most_covisits;
      e.history_factor = 1 + boost;
    }
    auto add = [&](const std::string& id) {
      if (e.because.size() < kMostBecause && std::find(e.because.begin(), e.because.end(), id) == e.because.end())
        e.because.push_back(id);
    };
    if (recency_[i] > 0) add(item.item_id);  // the user viewed it
    if (covisits_of_[i] > 0 && history) {
      const CoVisitation::Key key = covisits_.key(item.item_id);
      const size_t before = e.because.size();
      for (size_t p = 0; p < sources; ++p)
        if (CoVisitation::count(source_rows[p], key) > 0) add(history->viewed[p].item_id);
      if (e.because.size() == before) {  // reached by the walk's second step: through which of the user's items
        for (size_t v = 0; v < vias; ++v) reaches[v] = CoVisitation::count(via_rows[v], key) > 0;
        for (size_t p = 0; p < sources; ++p)
          for (size_t v = 0; v < vias; ++v)
            if (linked[p * vias + v] && reaches[v]) {
              add(history->viewed[p].item_id);
              break;
            }
      }
    }
    if (e.category_share > 0)
      for (const std::string& clicked : recent_clicks)
        if (const Item* other = learner_.catalog().find(clicked); other && other->category == item.category)
          add(clicked);
  }
}

void Ranker::candidate_features(double most_covisits, int click, int ctcvr, int64_t ts_ms) {
  double most_popular = -std::numeric_limits<double>::infinity();
  double most_exposed = -std::numeric_limits<double>::infinity();
  for (size_t i : candidates_) {
    most_popular = std::max(most_popular, *available_popularity_[i]);
    most_exposed = std::max(most_exposed, *available_exposure_[i]);
  }
  features_.resize(candidates_.size());
  for (size_t j = 0; j < candidates_.size(); ++j) {
    const auto c = static_cast<Eigen::Index>(j);
    const size_t i = candidates_[j];
    BlendFeatures& x = features_[j];
    double model = click >= 0 ? batch_.predictions(click, c) : 0.0;
    if (ctcvr >= 0) model += config_.value_weight * batch_.predictions(ctcvr, c) * price_[i];
    x[kLogModelScore] = static_cast<float>(std::log(std::max(model, kLeastModelScore)));
    const ViewedItem* viewed = viewed_[i];
    x[kRecent] = viewed ? 1.0f : 0.0f;
    x[kRecency] = static_cast<float>(recency_[i]);
    x[kViews] = viewed ? static_cast<float>(std::log1p(static_cast<double>(viewed->views))) : 0.0f;
    x[kFreshView] =
        viewed ? static_cast<float>(std::exp(-static_cast<double>(std::max<int64_t>(0, ts_ms - viewed->ts_ms)) / kFreshViewMs))
               : 0.0f;
    x[kCovisitShare] = most_covisits > 0 ? static_cast<float>(covisits_of_[i] / most_covisits) : 0.0f;
    x[kCovisitLog] = static_cast<float>(std::log1p(covisits_of_[i]));
    x[kCategoryShare] = static_cast<float>(share_[category_of_[i]]);
    x[kBrandMatch] = brand_of_[i] != kNoBrand && brand_taken_[brand_of_[i]] ? 1.0f : 0.0f;
    const double popularity = *available_popularity_[i];
    x[kPopularity] = std::isfinite(popularity) && std::isfinite(most_popular)
                         ? static_cast<float>(std::clamp((popularity - most_popular) / 8, -4.0, 0.0))
                         : -4.0f;
    const double exposure = *available_exposure_[i];
    x[kExposure] = !std::isfinite(most_exposed) ? 0.0f  // nothing shown: no exposure to tell apart
                   : std::isfinite(exposure)
                       ? static_cast<float>(std::clamp((exposure - most_exposed) * std::numbers::ln2, kLeastExposure, 0.0))
                       : static_cast<float>(kLeastExposure);
  }
}

bool Ranker::knows_the_same_clicks(const UserHistory* history, const std::vector<std::string>& recent_clicks) const {
  // In `learn` the recent clicks come with the rank request from the
  // consumer's thread, ahead of the event-time merger that feeds add_event():
  // a ranking made from a click this ranker has not taken in yet would teach
  // the blend, when that click arrives, that what the click itself raised
  // (its category's share, the query) predicts it. The newest click on both
  // sides tells whether they agree (a repeat click on the newest item slips
  // by: its echo is of an item the ranking's inputs held already).
  if (viewed_capacity(config_) == 0) return true;  // no history to tell by
  const bool viewed = history && !history->viewed.empty();
  if (recent_clicks.empty()) return !viewed;
  return viewed && history->viewed.front().item_id == recent_clicks.front();
}

void Ranker::remember_served(const std::string& user_id, size_t best) {
  auto [it, fresh] = served_.try_emplace(user_id);
  Served& served = it->second;
  served.seq = ++served_seq_;
  served.items.clear();
  served.features.clear();
  for (size_t j = 0; j < best; ++j) {
    served.items.push_back(available_[candidates_[scored_[j].second]]);
    served.features.push_back(features_[scored_[j].second]);
  }
  served_order_.emplace_back(user_id, served.seq);
  const size_t capacity = static_cast<size_t>(config_.blend_served_users);
  while (served_.size() > capacity && !served_order_.empty()) {
    auto& [user, seq] = served_order_.front();
    if (auto old = served_.find(user); old != served_.end() && old->second.seq == seq) served_.erase(old);
    served_order_.pop_front();
  }
  if (served_order_.size() > 4 * capacity + 16)  // drop the stale entries of users ranked again since
    std::erase_if(served_order_, [&](const auto& entry) {
      auto live = served_.find(entry.first);
      return live == served_.end() || live->second.seq != entry.second;
    });
}

void Ranker::learn_click(const Event& click) {
  auto it = served_.find(click.user_id);
  if (it == served_.end()) return;
  const Item* item = learner_.catalog().find(click.item_id);
  const Served& served = it->second;
  for (size_t j = 0; item && j < served.items.size(); ++j)
    if (served.items[j] == item) {
      blend_.learn(served.features, j);
      break;
    }
  served_.erase(it);  // one click per ranking served: the next ranking comes after it
}

}  // namespace streamrec::ranking
