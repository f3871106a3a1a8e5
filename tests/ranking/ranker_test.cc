// Rankings (ranking/ranker.h): the ranker scores its candidates
// through UserScorer (ranking/item_snapshot.h) against the snapshot of its last index
// rebuild, with each item's part of the model's first layer computed once
// per rebuild and the user's once per ranking; the scores must be those of
// the general path, which builds one Sample per candidate and runs
// Learner::prepare + score, up to float rounding (1e-6 relative: the fast
// path sums the first layer in another order).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include "online_learner/joiner.h"
#include "ranking/ranker.h"
#include "ranking/realtime_user.h"
#include "tests/online_learner/test_stream.h"

namespace streamrec::ranking {
namespace {

using namespace streamrec::learner;
using learner::testing::make_stream;

// 40 items in 4 categories; i5 and i12 unavailable. The training stream
// shows only i0..i29, so i30..i39 have no item row.
std::unique_ptr<Learner> trained_learner(const LearnerConfig& config) {
  auto learner = std::move(Learner::create(config)).value();
  for (int i = 0; i < 40; ++i)
    learner->add_item(Item{"i" + std::to_string(i), "c" + std::to_string(i % 4), 2.0 + i, i != 5 && i != 12, 0});
  for (const Event& e : make_stream(3000, 20, 30, 7)) learner->add_event(e);
  learner->finish();
  return learner;
}

// The score rank() documents, through the general path: one Sample per item.
std::map<std::string, double> general_path_scores(Learner& learner, const RankingConfig& ranking,
                                                  const std::string& user, const std::vector<std::string>& recent,
                                                  const std::vector<ContextFeature>& context,
                                                  const std::vector<std::string>& items) {
  std::vector<Sample> samples;
  for (const std::string& item : items) {
    Sample s;
    s.user_id = user;
    s.item_id = item;
    s.context = context;
    s.recent_clicks = recent;
    samples.push_back(s);
  }
  Batch batch;
  learner.prepare(samples, batch, /*observe=*/false);
  learner.score(batch);
  const TaskSet& tasks = learner.loss().tasks();
  int ctcvr = -1;
  for (int k = 0; k < tasks.size(); ++k)
    if (tasks.tasks[k].kind == TaskKind::kEsmm) ctcvr = k;
  std::map<std::string, double> scores;
  for (size_t i = 0; i < items.size(); ++i) {
    const auto c = static_cast<Eigen::Index>(i);
    const Item& item = *learner.catalog().find(items[i]);
    double score = batch.predictions(tasks.click_task, c) + ranking.value_weight * batch.predictions(ctcvr, c) * item.price;
    double share = 0;
    for (const std::string& r : recent)
      if (const Item* clicked = learner.catalog().find(r); clicked && clicked->category == item.category)
        share += 1.0 / recent.size();
    if (share > 0) score *= 1 + ranking.recent_category_boost * share;
    scores[items[i]] = score;
  }
  return scores;
}

// Every available item a candidate, every candidate in the ranking: the
// ranking is all of them, scored as the general path scores them.
void expect_general_path_scores(const LearnerConfig& config) {
  auto learner = trained_learner(config);
  RankingConfig ranking;
  ranking.blend = "fixed";  // the formula general_path_scores() computes
  ranking.retrieval_candidates = 1000;
  ranking.top_k = 1000;
  Ranker ranker(ranking, PopularityConfig{}, *learner);
  ASSERT_EQ(learner->table().find(FeatureEncoder::item_key("i35")), EmbeddingTable::kNoRow);

  // u3 has a row, a context (one key not a feature) and recent clicks: a
  // repeat, an unavailable item and one the catalog does not know.
  const std::vector<std::string> recent = {"i3", "i7", "i3", "i5", "nope"};
  const std::vector<ContextFeature> context = {
      {"device", "ios", false}, {"hour", "13", true}, {"page", "home", false}, {"other", "x", false}};
  std::vector<std::string> available;
  learner->catalog().for_each_available([&](const Item& item) { available.push_back(item.item_id); });
  ASSERT_EQ(available.size(), 38u);
  auto want = general_path_scores(*learner, ranking, "u3", recent, context, available);

  auto got = ranker.rank("u3", recent, context, 2'000'000);
  ASSERT_EQ(got.size(), available.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const auto& [item, score] = got[i];
    ASSERT_TRUE(want.count(item)) << item << " is not an available item";
    EXPECT_NEAR(score, want[item], 1e-6 * std::max(1.0, std::abs(want[item]))) << item;
    if (i > 0) {
      EXPECT_GE(got[i - 1].second, score);
    }
  }
  auto has = [&](const std::string& id) {
    return std::any_of(got.begin(), got.end(), [&](auto& entry) { return entry.first == id; });
  };
  EXPECT_TRUE(has("i35"));  // no item row: scored with its field's mean row (or zeros)
  EXPECT_FALSE(has("i5"));  // unavailable, though clicked
  EXPECT_FALSE(has("i12"));

  // The same with the user's row alone, and with the recent clicks alone.
  want = general_path_scores(*learner, ranking, "u4", {}, {}, available);
  for (const auto& [item, score] : ranker.rank("u4", {}, {}, 2'000'000))
    EXPECT_NEAR(score, want[item], 1e-6 * std::max(1.0, std::abs(want[item]))) << item;
  want = general_path_scores(*learner, ranking, "stranger", {"i8"}, context, available);
  for (const auto& [item, score] : ranker.rank("stranger", {"i8"}, context, 2'000'000))
    EXPECT_NEAR(score, want[item], 1e-6 * std::max(1.0, std::abs(want[item]))) << item;
}

TEST(Ranker, ScoresAsTheGeneralPathWithDefaultSettings) { expect_general_path_scores(LearnerConfig{}); }

TEST(Ranker, ScoresAsTheGeneralPathWithBiasTermsAndWithoutFieldMeans) {
  LearnerConfig config;
  config.bias_terms = true;
  config.field_mean_init = false;
  expect_general_path_scores(config);
}

// The user's part of the first layer is computed once there
// (Model::forward_varying), for every shape of the model.
TEST(Ranker, ScoresAsTheGeneralPathWithDotHead) {
  LearnerConfig config;
  config.dot_head = true;
  expect_general_path_scores(config);
}

TEST(Ranker, ScoresAsTheGeneralPathWithoutInteractions) {
  LearnerConfig config;
  config.interactions = false;
  expect_general_path_scores(config);
}

TEST(Ranker, ScoresAsTheGeneralPathWithASharedBottom) {
  LearnerConfig config;
  config.architecture = "shared";
  config.bias_terms = true;
  expect_general_path_scores(config);
}

TEST(Ranker, ScoresAsTheGeneralPathWithSingleBottomsAndNoBag) {
  LearnerConfig config;
  config.architecture = "single";
  config.recent_clicks = 0;
  config.dot_head = true;
  expect_general_path_scores(config);
}

// The model and the item rows are those of the last index rebuild (by the
// clock at most a second old); the user's side is read at each ranking.
TEST(Ranker, ScoresWithTheModelOfTheLastIndexRebuild) {
  LearnerConfig config;
  config.field_mean_init = false;  // an input without a row stays zeros while the model learns
  auto learner = trained_learner(config);
  RankingConfig ranking;
  ranking.retrieval_candidates = 1000;
  ranking.top_k = 1000;
  Ranker ranker(ranking, PopularityConfig{}, *learner);
  // Rebuilt only when told: by the clock (a second), a slow or loaded run
  // (AddressSanitizer) rebuilt it while the learner trained below.
  ranker.rebuild_index_every(std::numeric_limits<uint64_t>::max());
  // u3's row, a context the stream never has and no recent clicks: inputs
  // that training on other users leaves alone.
  const std::vector<ContextFeature> unseen = {
      {"device", "never", false}, {"hour", "never", true}, {"page", "never", false}};
  auto before = ranker.rank("u3", {}, unseen, 2'000'000);
  ASSERT_FALSE(before.empty());
  for (Event e : make_stream(3000, 20, 30, 8)) {  // later, and new events (the first ids are deduplicated)
    if (e.user_id == "u3") continue;
    e.event_id = "more-" + e.event_id;
    e.request_id = "more-" + e.request_id;
    e.ts_ms += 10'000'000;
    learner->add_event(e);
  }
  learner->finish();

  EXPECT_EQ(ranker.rank("u3", {}, unseen, 2'000'000), before);  // the same snapshot, bit for bit
  ranker.catalog_changed();  // rebuilds the index before the next ranking
  auto after = ranker.rank("u3", {}, unseen, 2'000'000);
  EXPECT_NE(after, before);
  std::vector<std::string> available;
  learner->catalog().for_each_available([&](const Item& item) { available.push_back(item.item_id); });
  auto want = general_path_scores(*learner, ranking, "u3", {}, unseen, available);
  ASSERT_EQ(after.size(), available.size());
  for (const auto& [item, score] : after) EXPECT_NEAR(score, want[item], 1e-6 * std::max(1.0, std::abs(want[item]))) << item;
}

// Each ranking scores a few candidates: an item's part of the first layer
// is computed when a ranking first scores it, and a later ranking that
// scores it again, or scores it beside items not yet computed, gets the
// general path's scores too.
TEST(Ranker, ScoresAsTheGeneralPathWhenRankingsShareSomeCandidates) {
  auto learner = trained_learner(LearnerConfig{});
  RankingConfig ranking;
  ranking.blend = "fixed";  // the formula general_path_scores() computes
  ranking.retrieval_candidates = 5;
  ranking.popular_candidates = 0;
  ranking.category_candidates = 0;
  ranking.top_k = 5;
  Ranker ranker(ranking, PopularityConfig{}, *learner);
  ranker.rebuild_index_every(std::numeric_limits<uint64_t>::max());  // one snapshot for every ranking below
  const std::vector<ContextFeature> context = {{"device", "ios", false}, {"page", "home", false}};
  std::set<std::string> scored;
  size_t scored_again = 0;
  for (const auto& [user, recent] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"u4", {}}, {"u3", {"i8"}}, {"u7", {}}, {"u11", {"i2", "i9"}}, {"u4", {}}}) {
    auto got = ranker.rank(user, recent, context, 2'000'000);
    ASSERT_EQ(got.size(), 5u) << user;
    std::vector<std::string> items;
    for (const auto& entry : got) items.push_back(entry.first);
    auto want = general_path_scores(*learner, ranking, user, recent, context, items);
    for (const auto& [item, score] : got) {
      EXPECT_NEAR(score, want[item], 1e-6 * std::max(1.0, std::abs(want[item]))) << user << " " << item;
      scored_again += !scored.insert(item).second;
    }
  }
  // The rankings overlap in part: both paths of the snapshot were taken.
  EXPECT_GT(scored_again, 0u);
  EXPECT_GT(scored.size(), 5u);
}

TEST(Ranker, AUserWithoutRowOrClicksGetsNoRanking) {
  auto learner = trained_learner(LearnerConfig{});
  Ranker ranker(RankingConfig{}, PopularityConfig{}, *learner);
  EXPECT_TRUE(ranker.rank("stranger", {}, {}, 2'000'000).empty());
  EXPECT_TRUE(ranker.rank("stranger", {"nope"}, {}, 2'000'000).empty());
}

TEST(Ranker, RetrievalCandidatesAreTheBestDotProducts) {
  auto learner = trained_learner(LearnerConfig{});
  RankingConfig config;
  config.retrieval_candidates = 5;
  config.popular_candidates = 0;
  config.category_candidates = 0;
  Ranker ranker(config, PopularityConfig{}, *learner);

  const EmbeddingTable& table = learner->table();
  const int dim = static_cast<int>(learner->config().embedding_dim);
  Eigen::Map<const Eigen::VectorXf> user(table.row(table.find(FeatureEncoder::user_key("u3"))), dim);
  std::vector<std::tuple<float, size_t, std::string>> affinity;  // ties: catalog order
  learner->catalog().for_each_available([&](const Item& item) {
    uint32_t row = table.find(FeatureEncoder::item_key(item.item_id));
    float a = row == EmbeddingTable::kNoRow ? 0.0f : user.dot(Eigen::Map<const Eigen::VectorXf>(table.row(row), dim));
    affinity.emplace_back(-a, affinity.size(), item.item_id);
  });
  std::sort(affinity.begin(), affinity.end());
  std::vector<std::string> want, got;
  for (int i = 0; i < 5; ++i) want.push_back(std::get<2>(affinity[i]));
  for (auto& [item, score] : ranker.rank("u3", {}, {}, 2'000'000)) got.push_back(item);
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, want);
}

TEST(Ranker, RetrievalKeepsTheBestOfAnyCountWithTiesInCatalogOrder) {
  // i30..i39 have no row: they tie at affinity 0, somewhere among the rest,
  // so some count cuts through the ties.
  auto learner = trained_learner(LearnerConfig{});
  const EmbeddingTable& table = learner->table();
  const int dim = static_cast<int>(learner->config().embedding_dim);
  Eigen::Map<const Eigen::VectorXf> user(table.row(table.find(FeatureEncoder::user_key("u7"))), dim);
  std::vector<std::tuple<float, size_t, std::string>> affinity;  // -affinity, catalog order, item
  learner->catalog().for_each_available([&](const Item& item) {
    uint32_t row = table.find(FeatureEncoder::item_key(item.item_id));
    float a = row == EmbeddingTable::kNoRow ? 0.0f : user.dot(Eigen::Map<const Eigen::VectorXf>(table.row(row), dim));
    affinity.emplace_back(-a, affinity.size(), item.item_id);
  });
  std::sort(affinity.begin(), affinity.end());
  ASSERT_LT(std::get<0>(affinity.front()), 0.0f);  // positives and negatives around the ties
  ASSERT_GT(std::get<0>(affinity.back()), 0.0f);
  for (size_t n = 1; n <= affinity.size(); ++n) {
    RankingConfig config;
    config.retrieval_candidates = static_cast<int64_t>(n);
    config.popular_candidates = 0;
    config.category_candidates = 0;
    config.top_k = 100;  // the ranking is every candidate
    Ranker ranker(config, PopularityConfig{}, *learner);
    std::vector<std::string> want, got;
    for (size_t i = 0; i < n; ++i) want.push_back(std::get<2>(affinity[i]));
    for (auto& [item, score] : ranker.rank("u7", {}, {}, 2'000'000)) got.push_back(item);
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, want) << n << " candidates";
  }
}

TEST(Ranker, CategoryCandidatesAreTheMostPopularAvailableOfTheClickedCategories) {
  auto learner = trained_learner(LearnerConfig{});
  RankingConfig config;
  config.retrieval_candidates = 0;
  config.popular_candidates = 0;
  config.category_candidates = 3;
  Ranker ranker(config, PopularityConfig{}, *learner);
  // Clicks make i1 < i9 < i5 (unavailable) < i13 < i17 the most popular of
  // category c1, and i2 the most popular of all.
  auto clicks = [&](const std::string& item, int n) {
    for (int k = 0; k < n; ++k) ranker.add_event(testing::make_event("p", EventType::kClick, "u0", item, 1000));
  };
  clicks("i1", 1);
  clicks("i9", 2);
  clicks("i5", 3);
  clicks("i13", 4);
  clicks("i17", 5);
  clicks("i2", 10);

  std::vector<std::string> got;
  for (auto& [item, score] : ranker.rank("u3", {"i21"}, {}, 2'000'000)) got.push_back(item);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"i13", "i17", "i9"}));
}


// No train/serve skew in the recent-click bag: after the same clicks (a
// repeat among them, more than fit), the real-time user the ranker ranks
// with (whose bag the pipeline gives the learner) holds exactly the bag a
// learner given events alone (train) keeps in its own book.
TEST(RecentClicks, TheRealtimeUserAndTheLearnersOwnBookKeepTheSameBag) {
  learner::RecentClicksBook book(/*cap=*/3, /*max_users=*/10);
  RealtimeUser user;
  int64_t ts = 0;
  for (const char* item : {"a", "b", "a", "c", "c", "d"}) {
    ts += 1000;
    Event click =
        learner::testing::make_event(std::string("c-") + item + std::to_string(ts), EventType::kClick, "u", item, ts);
    book.remember(click);
    user.observe(click, 3);
  }
  EXPECT_EQ(user.recent, (learner::RecentClicks{"d", "c", "c"}));
  EXPECT_EQ(book.of("u"), user.recent);
}

}  // namespace
}  // namespace streamrec::ranking
