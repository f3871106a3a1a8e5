// streamrec evaluate (ranking/offline_evaluation.h): the metrics of each
// baseline equal those of lists recomputed by brute force from the events
// before each held-out click, the metrics themselves match hand-computed
// values, and a rerun gives the same report.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/popularity.h"
#include "ranking/offline_evaluation.h"
#include "ranking/ranking_metrics.h"
#include "tests/online_learner/test_stream.h"

namespace streamrec::ranking {
namespace {

using learner::testing::make_event;

TEST(RankingMetrics, HitRateNdcgAndMrrOfKnownRanks) {
  RankingMetrics m(3);
  const std::vector<std::string> list = {"a", "b", "c", "d"};
  m.add(list, "a", false);  // rank 1
  m.add(list, "c", true);   // rank 3
  m.add(list, "d", true);   // rank 4 > K: a miss
  m.add({}, "a", false);    // nothing served: a miss
  EXPECT_EQ(m.all().events, 4u);
  EXPECT_DOUBLE_EQ(m.all().hit_rate, 2.0 / 4);
  EXPECT_DOUBLE_EQ(m.all().ndcg, (1.0 + 1.0 / 2.0) / 4);  // 1/log2(2) + 1/log2(4)
  EXPECT_DOUBLE_EQ(m.all().mrr, (1.0 + 1.0 / 3) / 4);
  EXPECT_EQ(m.new_items().events, 2u);
  EXPECT_DOUBLE_EQ(m.new_items().hit_rate, 0.5);
  EXPECT_DOUBLE_EQ(m.new_items().ndcg, 0.5 / 2);
  EXPECT_DOUBLE_EQ(m.new_items().mrr, (1.0 / 3) / 2);
}

// 12 items in 3 categories; 6 users who click mostly within "their"
// category, come back to what they saw, and buy now and then.
std::vector<Item> items() {
  std::vector<Item> out;
  for (int i = 0; i < 12; ++i) out.push_back(Item{"i" + std::to_string(i), "c" + std::to_string(i % 3), 1.0 + i, true, 0});
  return out;
}

std::vector<Event> stream() {
  learner::SplitMix rng(11);
  std::vector<Event> out;
  int64_t ts = 1'000'000'000;
  std::map<int, int> last;
  for (int n = 0; n < 400; ++n) {
    ts += 1000 + static_cast<int64_t>(rng.below(20'000));
    int u = static_cast<int>(rng.below(6));
    int i;
    if (last.count(u) && rng.uniform() < 0.3) i = last[u];  // comes back
    else if (rng.uniform() < 0.7) i = static_cast<int>(u % 3 + 3 * rng.below(4));  // their category
    else i = static_cast<int>(rng.below(12));
    last[u] = i;
    EventType type = rng.uniform() < 0.1 ? EventType::kPurchase : EventType::kClick;
    out.push_back(make_event("e" + std::to_string(n), type, "u" + std::to_string(u), "i" + std::to_string(i), ts));
  }
  return out;
}

Config small_config() {
  Config config;
  config.learner.negatives_per_click = "2";
  config.learner.embedding_dim = 4;
  config.learner.batch_size = 16;
  config.learner.experts = 2;
  config.learner.expert_hidden = 8;
  config.learner.tower_hidden = 4;
  return config;
}

// The baselines by their definitions, from the events before `end`.
struct BruteForce {
  const std::vector<Event>& events;
  const std::map<std::string, std::string>& category;
  PopularityConfig popularity;
  size_t end;
  size_t k;

  std::vector<std::string> top(const std::function<bool(const std::string&)>& keep) const {
    std::map<std::string, double> weight;  // decayed to the time of events[end]
    const int64_t now = events[end].ts_ms;
    for (size_t j = 0; j < end; ++j) {
      const Event& e = events[j];
      double w = e.type == EventType::kClick ? popularity.click_weight : popularity.purchase_weight;
      weight[e.item_id] += w * std::exp2(static_cast<double>(e.ts_ms - now) / 1000.0 / popularity.half_life_s);
    }
    std::vector<std::pair<double, std::string>> ranked;
    for (auto& [item, w] : weight)
      if (keep(item)) ranked.emplace_back(-w, item);
    std::sort(ranked.begin(), ranked.end());
    std::vector<std::string> out;
    for (size_t j = 0; j < ranked.size() && j < k; ++j) out.push_back(ranked[j].second);
    return out;
  }
  std::vector<std::string> popular() const {
    return top([](const std::string&) { return true; });
  }
  // The user's distinct clicked items, newest first, with the time of each one's latest click.
  std::vector<std::pair<std::string, int64_t>> viewed(const std::string& user, size_t before) const {
    std::vector<std::pair<std::string, int64_t>> out;
    std::set<std::string> seen;
    for (size_t j = before; j-- > 0;) {
      const Event& e = events[j];
      if (e.user_id == user && e.type == EventType::kClick && seen.insert(e.item_id).second)
        out.emplace_back(e.item_id, e.ts_ms);
    }
    return out;
  }
  std::vector<std::string> last_viewed(const std::string& user) const {
    std::vector<std::string> out;
    for (auto& [item, ts] : viewed(user, end))
      if (out.size() < k) out.push_back(item);
    return out;
  }
  std::vector<std::string> top_category(const std::string& user) const {
    std::map<std::string, std::pair<int, size_t>> count;  // category -> (events, latest position)
    for (size_t j = 0; j < end; ++j)
      if (events[j].user_id == user) {
        auto& c = count[category.at(events[j].item_id)];
        ++c.first;
        c.second = j;
      }
    if (count.empty()) return {};
    auto best = std::max_element(count.begin(), count.end(), [](auto& a, auto& b) { return a.second < b.second; });
    return top([&](const std::string& item) { return category.at(item) == best->first; });
  }
  // co-visits: every click of j by a user against the first 5 of their
  // distinct viewed list just before it, viewed at most an hour earlier.
  std::vector<std::string> covisitation(const std::string& user) const {
    std::map<std::pair<std::string, std::string>, uint64_t> count;
    for (size_t j = 0; j < end; ++j) {
      const Event& e = events[j];
      if (e.type != EventType::kClick) continue;
      auto before = viewed(e.user_id, j);
      for (size_t m = 0; m < before.size() && m < 5; ++m)
        if (before[m].first != e.item_id && e.ts_ms - before[m].second <= 3'600'000) {
          ++count[{before[m].first, e.item_id}];
          ++count[{e.item_id, before[m].first}];
        }
    }
    auto mine = viewed(user, end);
    std::map<std::string, uint64_t> sum;
    for (size_t m = 0; m < mine.size() && m < 5; ++m)
      for (auto& [pair, c] : count)
        if (pair.first == mine[m].first) sum[pair.second] += c;
    BruteForce all_items = *this;
    all_items.k = 12;
    auto pop = all_items.popular();
    auto rank_of = [&](const std::string& item) {  // popularity order; never counted: last
      return std::find(pop.begin(), pop.end(), item) - pop.begin();
    };
    std::vector<std::string> out;
    for (auto& [item, s] : sum) out.push_back(item);
    std::sort(out.begin(), out.end(), [&](auto& a, auto& b) {
      if (sum[a] != sum[b]) return sum[a] > sum[b];
      if (rank_of(a) != rank_of(b)) return rank_of(a) < rank_of(b);
      return a < b;
    });
    if (out.size() > k) out.resize(k);
    return out;
  }
};

void expect_same(const TopKSummary& got, const TopKSummary& want, const std::string& what) {
  EXPECT_EQ(got.events, want.events) << what;
  EXPECT_NEAR(got.hit_rate, want.hit_rate, 1e-12) << what;
  EXPECT_NEAR(got.ndcg, want.ndcg, 1e-12) << what;
  EXPECT_NEAR(got.mrr, want.mrr, 1e-12) << what;
}

TEST(OfflineEvaluation, BaselinesMatchBruteForceReference) {
  const std::vector<Event> events = stream();
  std::map<std::string, std::string> category;
  for (const Item& item : items()) category[item.item_id] = item.category;
  EvaluationSettings settings;
  settings.k = 4;
  settings.test_fraction = 0.3;
  const Config config = small_config();
  auto report = evaluate_offline(config, settings, items(), events);
  ASSERT_TRUE(report.ok()) << report.error().message;

  const size_t split = static_cast<size_t>(events.size() * 0.7);
  std::map<std::string, RankingMetrics> want;
  for (const char* name : {"popular", "last_viewed", "top_category", "covisitation"}) want.emplace(name, RankingMetrics(4));
  uint64_t clicks = 0;
  for (size_t j = split; j < events.size(); ++j) {
    const Event& e = events[j];
    if (e.type != EventType::kClick) continue;
    ++clicks;
    bool new_to_user = std::none_of(events.begin(), events.begin() + static_cast<ptrdiff_t>(j), [&](const Event& p) {
      return p.user_id == e.user_id && p.item_id == e.item_id;
    });
    BruteForce b{events, category, config.popularity, j, 4};
    want.at("popular").add(b.popular(), e.item_id, new_to_user);
    want.at("last_viewed").add(b.last_viewed(e.user_id), e.item_id, new_to_user);
    want.at("top_category").add(b.top_category(e.user_id), e.item_id, new_to_user);
    want.at("covisitation").add(b.covisitation(e.user_id), e.item_id, new_to_user);
  }
  EXPECT_EQ(report->held_out_clicks, clicks);
  EXPECT_EQ(report->split_ts_ms, events[split].ts_ms);
  ASSERT_EQ(report->recommenders.size(), 5u);
  EXPECT_EQ(report->recommenders[0].name, "streamrec");
  EXPECT_EQ(report->recommenders[0].all.events, clicks);
  // Each item of each ranking served is counted under the one source that
  // proposed it: K items (the catalog has more) per click not served the
  // popular fallback.
  uint64_t by_sources = 0;
  std::set<std::string> sources;
  for (const auto& [source, n] : report->top_k_sources) {
    by_sources += n;
    sources.insert(source);
  }
  EXPECT_EQ(sources, (std::set<std::string>{"recent", "covisit", "category", "brand", "retrieval", "popular"}));
  EXPECT_GT(clicks, report->fallback_rankings);
  EXPECT_EQ(by_sources, 4 * (clicks - report->fallback_rankings));
  for (size_t r = 1; r < report->recommenders.size(); ++r) {
    const RecommenderResult& got = report->recommenders[r];
    expect_same(got.all, want.at(got.name).all(), got.name);
    expect_same(got.new_items, want.at(got.name).new_items(), got.name + " (new items)");
  }
  // The stream is built so that every baseline hits now and then: the
  // comparison above is not between zeros.
  for (const auto& [name, m] : want) {
    if (name != "last_viewed") {
      EXPECT_GT(m.all().hit_rate, 0) << name;
    }
  }
  EXPECT_GT(want.at("last_viewed").all().hit_rate, 0.2);
}

TEST(OfflineEvaluation, DeterministicForASeed) {
  EvaluationSettings settings;
  settings.k = 5;
  settings.index_rebuild_events = 50;
  auto a = evaluate_offline(small_config(), settings, items(), stream());
  auto b = evaluate_offline(small_config(), settings, items(), stream());
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->recommenders.size(), b->recommenders.size());
  EXPECT_GT(a->samples_learned, 0u);
  for (size_t r = 0; r < a->recommenders.size(); ++r) {
    EXPECT_EQ(a->recommenders[r].all.hit_rate, b->recommenders[r].all.hit_rate) << a->recommenders[r].name;
    EXPECT_EQ(a->recommenders[r].all.ndcg, b->recommenders[r].all.ndcg) << a->recommenders[r].name;
    EXPECT_EQ(a->recommenders[r].all.mrr, b->recommenders[r].all.mrr) << a->recommenders[r].name;
    EXPECT_EQ(a->recommenders[r].new_items.hit_rate, b->recommenders[r].new_items.hit_rate) << a->recommenders[r].name;
  }
  EXPECT_GT(a->recommenders[0].all.hit_rate, 0);  // streamrec ranks something that is clicked
  // The learned blend learned, and the same.
  EXPECT_GT(a->blend_clicks_learned, 0u);
  EXPECT_EQ(a->blend_clicks_learned, b->blend_clicks_learned);
  ASSERT_EQ(a->blend_weights.size(), b->blend_weights.size());
  for (size_t f = 0; f < a->blend_weights.size(); ++f)
    EXPECT_EQ(a->blend_weights[f].second, b->blend_weights[f].second) << a->blend_weights[f].first;
}

// Candidate recall: with the recent source alone, the held-out clicks whose
// item was a candidate are exactly the re-views of one of the user's last 3
// distinct clicked items that they have not bought (the re-consumption
// policy), counted from the events before each click.
TEST(OfflineEvaluation, CandidateRecallCountsTheClicksASourceProposed) {
  Config config = small_config();
  config.rankings.recent_candidates = 3;
  config.rankings.covisit_candidates = 0;
  config.rankings.category_candidates = 0;
  config.rankings.brand_candidates = 0;
  config.rankings.retrieval_candidates = 0;
  config.rankings.popular_candidates = 0;
  EvaluationSettings settings;
  settings.k = 5;
  settings.index_rebuild_events = 50;
  const std::vector<Event> events = stream();
  auto report = evaluate_offline(config, settings, items(), events);
  ASSERT_TRUE(report.ok());

  const std::map<std::string, std::string> no_categories;
  const size_t split = static_cast<size_t>(static_cast<double>(events.size()) * 0.8);
  uint64_t expected = 0, clicks = 0;
  for (size_t j = 0; j < events.size(); ++j) {
    const Event& e = events[j];
    if (e.ts_ms < events[split].ts_ms || e.type != EventType::kClick) continue;
    ++clicks;
    BruteForce brute{events, no_categories, config.popularity, j, 5};
    auto viewed = brute.viewed(e.user_id, j);
    bool bought = false;
    for (size_t b = 0; b < j; ++b)
      bought |= events[b].user_id == e.user_id && events[b].item_id == e.item_id && events[b].type == EventType::kPurchase;
    for (size_t p = 0; p < viewed.size() && p < 3; ++p) expected += !bought && viewed[p].first == e.item_id;
  }
  ASSERT_EQ(report->held_out_clicks, clicks);
  EXPECT_GT(expected, 0u);
  EXPECT_EQ(report->candidate_hits, expected);
  uint64_t by_source = 0;
  for (const auto& [name, hits] : report->candidate_hits_by_source) {
    by_source += hits[0];
    if (name != "recent") {
      EXPECT_EQ(hits[0], 0u) << name;
    }
  }
  EXPECT_EQ(by_source, expected);
  EXPECT_EQ(report->candidate_hits_new, 0u);  // a recent item is never new to the user
}

TEST(OfflineEvaluation, EventsOutOfOrderAreSortedAndCounted) {
  std::vector<Event> events = stream();
  std::swap(events[10], events[11]);
  EvaluationSettings settings;
  auto report = evaluate_offline(small_config(), settings, items(), events);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->reordered, 1u);
}

TEST(OfflineEvaluation, BadSettingsAreErrorsNamingThem) {
  EvaluationSettings settings;
  settings.test_fraction = 1.5;
  auto report = evaluate_offline(small_config(), settings, items(), stream());
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().message.find("test fraction"), std::string::npos);
}

}  // namespace
}  // namespace streamrec::ranking
