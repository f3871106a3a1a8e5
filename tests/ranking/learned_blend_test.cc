// The learned blend (ranking/learned_blend.h): it learns from the clicks
// that follow served rankings whether the user's own items deserve their
// boost, on the stream it is given; deterministically; and it survives the
// pipeline checkpoint (Ranker::save/load).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "ranking/learned_blend.h"
#include "ranking/ranker.h"
#include "tests/online_learner/test_stream.h"

namespace streamrec::ranking {
namespace {

using namespace streamrec::learner;
using learner::testing::make_event;
using learner::testing::make_stream;

// A served list: one item the user viewed last (recent, recency 1), one they
// viewed before (recency 0.5), and three they never viewed, in their
// category; all with the same model score.
std::vector<BlendFeatures> served_list() {
  std::vector<BlendFeatures> served(5, BlendFeatures{});
  for (BlendFeatures& x : served) {
    x[kLogModelScore] = -2;
    x[kCategoryShare] = 0.5;
    x[kPopularity] = -1;
  }
  served[0][kRecent] = 1, served[0][kRecency] = 1, served[0][kViews] = 0.69f, served[0][kFreshView] = 0.9f;
  served[1][kRecent] = 1, served[1][kRecency] = 0.5, served[1][kViews] = 0.69f, served[1][kFreshView] = 0.5f;
  served[2][kCovisitShare] = 1, served[2][kCovisitLog] = 1;
  return served;
}

TEST(LearnedBlend, StartsAsTheFixedBlendRanks) {
  LearnedBlend blend;
  auto served = served_list();
  // The user's last item first, then the one before, then the co-visited one.
  EXPECT_GT(blend.log_score(served[0]), blend.log_score(served[1]));
  EXPECT_GT(blend.log_score(served[1]), blend.log_score(served[2]));
  EXPECT_GT(blend.log_score(served[2]), blend.log_score(served[3]));
}

TEST(LearnedBlend, AStreamWithoutReconsumptionLearnsToRankViewedItemsLow) {
  LearnedBlend blend;
  auto served = served_list();
  for (int n = 0; n < 300; ++n) blend.learn(served, 2 + n % 3);  // always a new item
  EXPECT_LT(blend.log_score(served[0]), blend.log_score(served[3]));
  EXPECT_LT(blend.log_score(served[1]), blend.log_score(served[3]));
  EXPECT_LT(blend.weights()[kRecent], LearnedBlend::initial_weights()[kRecent]);
  EXPECT_EQ(blend.clicks_learned(), 300u);
}

TEST(LearnedBlend, AStreamOfReconsumptionLearnsToRankViewedItemsHigher) {
  LearnedBlend blend;
  auto served = served_list();
  const double margin_before = blend.log_score(served[1]) - blend.log_score(served[2]);
  for (int n = 0; n < 300; ++n) blend.learn(served, n % 2);  // always back to a viewed item
  EXPECT_GT(blend.weights()[kRecent], LearnedBlend::initial_weights()[kRecent]);
  EXPECT_GT(blend.log_score(served[1]) - blend.log_score(served[2]), margin_before);
}

TEST(LearnedBlend, ListsOfOneTeachNothing) {
  LearnedBlend blend;
  auto served = served_list();
  served.resize(1);
  blend.learn(served, 0);
  EXPECT_EQ(blend.weights(), LearnedBlend::initial_weights());
  EXPECT_EQ(blend.clicks_learned(), 0u);
}

TEST(LearnedBlend, SaveAndLoadRoundTripAndDamageIsRefused) {
  LearnedBlend blend;
  auto served = served_list();
  for (int n = 0; n < 50; ++n) blend.learn(served, n % 5);
  ByteWriter out;
  blend.save(out);
  LearnedBlend restored;
  ByteReader in(out.bytes());
  ASSERT_TRUE(restored.load(in)) << in.error();
  EXPECT_EQ(restored.weights(), blend.weights());
  EXPECT_EQ(restored.clicks_learned(), blend.clicks_learned());
  // The same next fits, bit for bit (the examples came along).
  blend.learn(served, 3);
  restored.learn(served, 3);
  EXPECT_EQ(restored.weights(), blend.weights());

  std::string bytes = out.bytes();
  bytes[4 + 8] = '\x7f';  // the first weight's top byte: a huge number
  bytes[4 + 7] = '\x7f';
  LearnedBlend damaged;
  ByteReader bad(bytes);
  EXPECT_FALSE(damaged.load(bad));
  EXPECT_FALSE(bad.ok());
  // Cut anywhere, in the weights or in the examples: refused, never read past.
  for (size_t cut = 0; cut < out.bytes().size(); ++cut) {
    const std::string first_bytes = out.bytes().substr(0, cut);
    ByteReader truncated(first_bytes);
    EXPECT_FALSE(damaged.load(truncated)) << cut;
  }
}

// Clicks drawn from exp(w · x) over lists of random candidates, with the
// weights `truth`: what a stream whose users choose by those signals shows.
void learn_clicks_of(LearnedBlend& blend, const std::array<double, kBlendFeatures>& truth, int clicks,
                     std::mt19937_64& random) {
  auto uniform = [&] { return static_cast<double>(random() >> 11) * 0x1p-53; };  // same on every libstdc++
  std::vector<BlendFeatures> served(20);
  std::vector<double> weight(served.size());
  for (int n = 0; n < clicks; ++n) {
    double sum = 0;
    for (size_t j = 0; j < served.size(); ++j) {
      for (float& f : served[j]) f = static_cast<float>(uniform());
      double s = 0;
      for (size_t f = 0; f < kBlendFeatures; ++f) s += truth[f] * served[j][f];
      sum += weight[j] = std::exp(s);
    }
    double pick = uniform() * sum;
    size_t clicked = 0;
    while (clicked + 1 < served.size() && (pick -= weight[clicked]) > 0) ++clicked;
    blend.learn(served, clicked);
  }
}

// The blend's weights are the most likely ones given the window's clicks:
// on a stream made by known weights it finds them, and when the stream
// changes its mind it follows within a few windows, however many clicks
// came before (a learning rate that decays would not).
TEST(LearnedBlend, FitsTheWeightsThatMadeTheClicksOfItsWindow) {
  std::array<double, kBlendFeatures> first{}, second{};
  for (size_t f = 0; f < kBlendFeatures; ++f) {
    first[f] = f % 2 == 0 ? 2.0 : -1.0;
    second[f] = -first[f];
  }
  std::mt19937_64 random(7);
  LearnedBlend blend(1024);
  learn_clicks_of(blend, first, 4096, random);
  for (size_t f = 0; f < kBlendFeatures; ++f)
    EXPECT_NEAR(blend.weights()[f], first[f], 0.35) << blend_feature_name(f);
  learn_clicks_of(blend, second, 3072, random);
  for (size_t f = 0; f < kBlendFeatures; ++f)
    EXPECT_NEAR(blend.weights()[f], second[f], 0.35) << blend_feature_name(f);
}

// Pipeline checkpoints from before the fit hold the weights with their
// Adagrad sums and no examples: they load, weights and all.
TEST(LearnedBlend, LoadsTheWeightsOfACheckpointFromBeforeTheFit) {
  ByteWriter old;
  old.u32(kBlendFeatures);
  for (size_t f = 0; f < kBlendFeatures; ++f) {
    old.f64(0.25 * static_cast<double>(f));
    old.f64(3.0);  // the Adagrad sum
  }
  old.u64(42);
  LearnedBlend blend;
  ByteReader in(old.bytes());
  ASSERT_TRUE(blend.load(in, /*with_examples=*/false)) << in.error();
  EXPECT_TRUE(in.at_end());
  for (size_t f = 0; f < kBlendFeatures; ++f) EXPECT_EQ(blend.weights()[f], 0.25 * static_cast<double>(f));
  EXPECT_EQ(blend.clicks_learned(), 42u);
}

// The whole loop through the Ranker: it serves a ranking before each click
// (as `learn` refreshes a user's ranking after their events), and the click
// teaches the blend. Without `back`, users walk the catalog i0, i1, i2, ...
// (every user the same path, so co-visits and categories propose the next
// item) and never come back; with it, each user goes round their own three
// items (i0 i1 i2 i0 i1 i2 ... shifted by the user): after the first three,
// every click is a re-view.
std::unique_ptr<Learner> learner_with_catalog() {
  LearnerConfig config;
  auto learner = std::move(Learner::create(config)).value();
  for (int i = 0; i < 40; ++i) learner->add_item(Item{"i" + std::to_string(i), "c" + std::to_string(i / 10), 2.0, true, 0});
  for (const Event& e : make_stream(500, 20, 40, 7)) learner->add_event(e);
  learner->finish();
  return learner;
}

void walk(Ranker& ranker, bool back, int users) {
  int64_t ts = 1'000'000;
  int n = 0;
  for (int u = 0; u < users; ++u) {
    const std::string user = "w" + std::to_string(u);
    std::vector<std::string> recent;
    for (int step = 0; step < 12; ++step) {
      const int item = !back ? step : (u * 3) % 36 + step % 3;
      const std::string id = "i" + std::to_string(item);
      ranker.rank(user, recent, {}, ts);
      ranker.add_event(make_event("w" + std::to_string(n++), EventType::kClick, user, id, ts));
      recent.insert(recent.begin(), id);
      ts += 1000;
    }
  }
}

RankingConfig learned_config() {
  RankingConfig config;
  config.top_k = 10;
  return config;
}

TEST(LearnedBlendInRanker, NoReconsumptionStreamStopsBoostingRecentItems) {
  auto learner = learner_with_catalog();
  Ranker ranker(learned_config(), PopularityConfig{}, *learner);
  ASSERT_TRUE(ranker.learns_blend());
  walk(ranker, /*back=*/false, 40);
  EXPECT_GT(ranker.blend().clicks_learned(), 100u);
  EXPECT_LT(ranker.blend().weights()[kRecent], LearnedBlend::initial_weights()[kRecent]);
  // A new user on the same path, at i5: the next item comes before anything
  // they viewed.
  std::vector<std::string> recent;
  for (int i = 0; i <= 5; ++i) {
    ranker.add_event(make_event("x" + std::to_string(i), EventType::kClick, "fresh", "i" + std::to_string(i), 9'000'000 + i));
    recent.insert(recent.begin(), "i" + std::to_string(i));
  }
  auto ranking = ranker.rank("fresh", recent, {}, 9'000'100);
  ASSERT_FALSE(ranking.empty());
  EXPECT_EQ(ranking[0].first, "i6");
}

TEST(LearnedBlendInRanker, ReconsumptionStreamKeepsViewedItemsFirst) {
  auto learner = learner_with_catalog();
  Ranker ranker(learned_config(), PopularityConfig{}, *learner);
  walk(ranker, /*back=*/true, 40);
  EXPECT_GT(ranker.blend().clicks_learned(), 100u);
  // The user's own items weigh more than where nobody comes back (the first
  // two clicks of each user are new items here too: the weight need not grow).
  Ranker no_reconsumption(learned_config(), PopularityConfig{}, *learner);
  walk(no_reconsumption, /*back=*/false, 40);
  EXPECT_GT(ranker.blend().weights()[kRecent], no_reconsumption.blend().weights()[kRecent] + 1);
  std::vector<std::string> recent;
  for (int i : {37, 38, 39}) {
    ranker.add_event(make_event("y" + std::to_string(i), EventType::kClick, "fresh", "i" + std::to_string(i), 9'000'000 + i));
    recent.insert(recent.begin(), "i" + std::to_string(i));
  }
  auto ranking = ranker.rank("fresh", recent, {}, 9'000'100);
  ASSERT_GE(ranking.size(), 4u);
  // The user's items first, in the order the round comes back to them: the
  // oldest (i37) next, then i38. The one just clicked (i39) is the round's
  // last; the blend may put an item of the same category beside it.
  EXPECT_EQ(ranking[0].first, "i37");
  EXPECT_EQ(ranking[1].first, "i38");
  std::set<std::string> top4 = {ranking[0].first, ranking[1].first, ranking[2].first, ranking[3].first};
  EXPECT_TRUE(top4.contains("i39"));
}

// The next click needs the item shown first: P(shown) · P(click | shown).
// A fresh blend puts an item that was shown a lot above where it ranks
// without impressions; impressions of every item alike change nothing (the
// exposure feature is relative to the most exposed candidate, and it is 0
// for all on a stream without impressions).
TEST(LearnedBlendInRanker, ItemsShownMoreRankHigherForTheNextClick) {
  auto learner = learner_with_catalog();
  RankingConfig config = learned_config();
  config.top_k = 40;
  config.popular_candidates = 40;  // every item a candidate
  EXPECT_EQ(LearnedBlend::initial_weights()[kExposure], LearnedBlend::initial_weights()[kLogModelScore]);
  Ranker plain(config, PopularityConfig{}, *learner), shown(config, PopularityConfig{}, *learner),
      all_shown(config, PopularityConfig{}, *learner);
  int n = 0;
  for (Ranker* r : {&plain, &shown, &all_shown})
    for (const char* item : {"i0", "i1"}) r->add_event(make_event("v" + std::to_string(n++), EventType::kClick, "v", item, 1000));
  for (int j = 0; j < 50; ++j) shown.add_event(make_event("s" + std::to_string(j), EventType::kImpression, "o", "i25", 2000));
  for (int i = 0; i < 40; ++i)
    for (int j = 0; j < 3; ++j)
      all_shown.add_event(make_event("a" + std::to_string(i * 3 + j), EventType::kImpression, "o", "i" + std::to_string(i), 2000));
  const std::vector<std::string> recent = {"i1", "i0"};
  auto position = [](const std::vector<std::pair<std::string, double>>& ranking, const std::string& item) {
    return std::find_if(ranking.begin(), ranking.end(), [&](const auto& r) { return r.first == item; }) - ranking.begin();
  };
  auto before = plain.rank("v", recent, {}, 3000);
  auto after = shown.rank("v", recent, {}, 3000);
  ASSERT_EQ(before.size(), 40u);
  ASSERT_EQ(after.size(), 40u);
  EXPECT_GT(position(before, "i25"), 5);
  EXPECT_LT(position(after, "i25"), 3);  // only the user's own two items may stay above it
  EXPECT_EQ(all_shown.rank("v", recent, {}, 3000), before);
}

// In `learn` a rank request's recent clicks come from the consumer's
// thread, ahead of what the ranker has taken in (add_event): a ranking made
// from the next click itself teaches nothing when that click arrives; the
// ranking made before it does.
TEST(LearnedBlendInRanker, ARankingThatAlreadyKnewTheClickTeachesNothing) {
  auto learner = learner_with_catalog();
  Ranker ranker(learned_config(), PopularityConfig{}, *learner);
  ranker.add_event(make_event("a0", EventType::kClick, "a", "i0", 1000));
  ASSERT_FALSE(ranker.rank("a", {"i1", "i0"}, {}, 2000).empty());  // i1 not taken in yet
  ranker.add_event(make_event("a1", EventType::kClick, "a", "i1", 2000));
  EXPECT_EQ(ranker.blend().clicks_learned(), 0u);
  EXPECT_EQ(ranker.blend().weights(), LearnedBlend::initial_weights());

  ASSERT_FALSE(ranker.rank("a", {"i1", "i0"}, {}, 3000).empty());        // in step: served
  ASSERT_FALSE(ranker.rank("a", {"i2", "i1", "i0"}, {}, 3500).empty());  // ahead again: not
  ranker.add_event(make_event("a2", EventType::kClick, "a", "i2", 4000));
  EXPECT_EQ(ranker.blend().clicks_learned(), 1u);
  EXPECT_EQ(ranker.blend_rankings_kept(), 1u);
  EXPECT_EQ(ranker.blend_rankings_out_of_step(), 2u);
}

TEST(LearnedBlendInRanker, TheFixedBlendLearnsNothing) {
  auto learner = learner_with_catalog();
  RankingConfig config = learned_config();
  config.blend = "fixed";
  Ranker ranker(config, PopularityConfig{}, *learner);
  EXPECT_FALSE(ranker.learns_blend());
  walk(ranker, false, 5);
  EXPECT_EQ(ranker.blend().clicks_learned(), 0u);
}

TEST(LearnedBlendInRanker, TheWeightsTravelInTheCheckpointAndRankTheSame) {
  auto learner = learner_with_catalog();
  Ranker ranker(learned_config(), PopularityConfig{}, *learner);
  walk(ranker, false, 10);
  ByteWriter out;
  ranker.save(out);
  Ranker restored(learned_config(), PopularityConfig{}, *learner);
  ByteReader in(out.bytes());
  ASSERT_TRUE(restored.load(in)) << in.error();
  EXPECT_EQ(restored.blend().weights(), ranker.blend().weights());
  EXPECT_EQ(restored.blend().clicks_learned(), ranker.blend().clicks_learned());
  std::vector<std::string> recent = {"i3", "i2"};
  EXPECT_EQ(restored.rank("w1", recent, {}, 9'000'000), ranker.rank("w1", recent, {}, 9'000'000));
}

}  // namespace
}  // namespace streamrec::ranking
