// The approximate retrieval index (ranking/retrieval_index.h): its answers
// against the exact top by inner product, its builds, and the ranker that
// uses it on a large catalog.
#include <gtest/gtest.h>

#include <Eigen/Core>

#include <algorithm>
#include <chrono>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ranking/ranker.h"
#include "ranking/retrieval_index.h"
#include "tests/online_learner/test_stream.h"

namespace streamrec::ranking {
namespace {

// `n` items of dimension `dim` + a bias, with norms that vary as learned
// embeddings' do (popular items' grow).
Eigen::MatrixXf random_vectors(int dim, int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  std::uniform_real_distribution<float> scale(0.2f, 2.0f);
  Eigen::MatrixXf v(dim + 1, n);
  for (int c = 0; c < n; ++c) {
    const float s = scale(rng);
    for (int r = 0; r < dim; ++r) v(r, c) = s * normal(rng);
    v(dim, c) = 0.5f * normal(rng);
  }
  return v;
}

std::vector<std::string> ids(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("i" + std::to_string(i));
  return out;
}

// As the ranker asks: twice as many as it wants (kTop), of which it keeps
// the best.
TEST(RetrievalIndex, FindsMostOfTheExactTopByInnerProductWithTheirScores) {
  constexpr int kDim = 16, kItems = 20000, kTop = 100;
  const Eigen::MatrixXf vectors = random_vectors(kDim, kItems, 7);
  RetrievalIndex index;
  EXPECT_FALSE(index.ready());
  index.build_now(ids(kItems), vectors);
  ASSERT_TRUE(index.ready());
  EXPECT_EQ(index.items(), static_cast<size_t>(kItems));

  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0, 1);
  double recall = 0;
  constexpr int kQueries = 50;
  for (int q = 0; q < kQueries; ++q) {
    Eigen::VectorXf query(kDim);
    for (int r = 0; r < kDim; ++r) query(r) = normal(rng);
    Eigen::VectorXf exact = vectors.topRows(kDim).transpose() * query + vectors.row(kDim).transpose();
    std::vector<int> order(kItems);
    for (int i = 0; i < kItems; ++i) order[i] = i;
    std::partial_sort(order.begin(), order.begin() + kTop, order.end(), [&](int a, int b) { return exact(a) > exact(b); });
    std::set<std::string> truth;
    for (int i = 0; i < kTop; ++i) truth.insert("i" + std::to_string(order[i]));

    std::vector<std::pair<float, const std::string*>> found;
    index.search(query, 2 * kTop, found);
    ASSERT_EQ(found.size(), static_cast<size_t>(2 * kTop));
    int hits = 0;
    for (size_t k = 0; k < found.size(); ++k) {
      const int item = std::stoi(found[k].second->substr(1));
      EXPECT_NEAR(found[k].first, exact(item), 1e-3f * (1 + std::abs(exact(item))));  // the build's score
      if (k > 0) {
        EXPECT_GE(found[k - 1].first, found[k].first);  // best first
      }
      hits += truth.contains(*found[k].second);
    }
    recall += static_cast<double>(hits) / kTop / kQueries;
  }
  std::printf("retrieval index: recall of the exact top %d in %d found over %d items: %.3f\n", kTop, 2 * kTop, kItems,
              recall);
  EXPECT_GE(recall, 0.9);
}

TEST(RetrievalIndex, ABuildOnItsOwnThreadIsTakenInWhenItHasFinishedAndOneRunsAtATime) {
  RetrievalIndex index;
  ASSERT_TRUE(index.start_build(ids(5000), random_vectors(8, 5000, 3)));
  EXPECT_TRUE(index.building());
  EXPECT_FALSE(index.start_build(ids(10), random_vectors(8, 10, 4))) << "one build at a time";
  std::vector<std::pair<float, const std::string*>> found;
  index.search(Eigen::VectorXf::Ones(8), 10, found);
  EXPECT_TRUE(found.empty()) << "nothing answered before a build is taken in";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!index.take_finished() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(index.ready());
  EXPECT_FALSE(index.building());
  EXPECT_EQ(index.items(), 5000u);
  index.search(Eigen::VectorXf::Ones(8), 10, found);
  EXPECT_EQ(found.size(), 10u);
}

// A ranker on a catalog of at least approximate_retrieval_items searches the
// index, and, rescoring twice as many as it wants with today's embeddings,
// serves what scoring every item serves. (Replay mode: the index is built
// on the ranker's thread at its first refresh.)
TEST(RetrievalIndex, ARankerOnALargeCatalogSearchesItAndServesWhatScoringEveryItemServes) {
  LearnerConfig config;
  auto learner = std::move(learner::Learner::create(config)).value();
  constexpr int kItems = 3000;
  for (int i = 0; i < kItems; ++i)
    learner->add_item(Item{"i" + std::to_string(i), "c" + std::to_string(i % 50), 1.0 + i % 7, true, 0});
  for (const Event& e : learner::testing::make_stream(20000, 200, kItems, 5)) learner->add_event(e);
  learner->finish();
  RankingConfig approximate;
  approximate.approximate_retrieval_items = 1000;
  approximate.category_candidates = 0;  // retrieval's candidates decide
  approximate.popular_candidates = 0;
  RankingConfig exact = approximate;
  exact.approximate_retrieval_items = 0;
  Ranker searched(approximate, PopularityConfig{}, *learner), scored(exact, PopularityConfig{}, *learner);
  searched.rebuild_index_every(1);
  scored.rebuild_index_every(1);
  double overlap = 0;  // mean share of the exact ranking's items the searched one serves too
  int users = 0;
  for (int u = 0; u < 200; u += 5, ++users) {
    const std::string user = "u" + std::to_string(u);
    const std::vector<std::string> recent = {"i" + std::to_string(u * 7 % kItems)};
    std::set<std::string> exact_items, searched_items;
    for (const auto& [item, score] : scored.rank(user, recent, {}, 3'000'000)) exact_items.insert(item);
    for (const auto& [item, score] : searched.rank(user, recent, {}, 3'000'000)) searched_items.insert(item);
    ASSERT_FALSE(exact_items.empty());
    int shared = 0;
    for (const std::string& item : exact_items) shared += searched_items.contains(item);
    overlap += static_cast<double>(shared) / static_cast<double>(exact_items.size());
  }
  overlap /= users;
  std::printf("retrieval index: the rankings share %.4f of the exact rankings' items\n", overlap);
  // Every item with an embedding row (a few were never shown: no row).
  EXPECT_GT(searched.retrieval_index_items(), static_cast<size_t>(kItems * 0.95));
  EXPECT_LE(searched.retrieval_index_items(), static_cast<size_t>(kItems));
  EXPECT_EQ(scored.retrieval_index_items(), 0u);
  EXPECT_GE(overlap, 0.98);
}

}  // namespace
}  // namespace streamrec::ranking
