// Why an item is ranked (ranking/explanation.h): the terms of every
// explanation multiply to the item's score in the ranking, the source is the
// one that proposed it, and `because` names the user's items that drove it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ranking/ranker.h"
#include "tests/online_learner/test_stream.h"

namespace streamrec::ranking {
namespace {

using namespace streamrec::learner;
using learner::testing::make_event;
using learner::testing::make_stream;

std::unique_ptr<Learner> trained_learner() {
  auto learner = std::move(Learner::create(LearnerConfig{})).value();
  for (int i = 0; i < 40; ++i)
    learner->add_item(Item{"i" + std::to_string(i), "c" + std::to_string(i % 4), 2.0 + i, true, 0});
  for (const Event& e : make_stream(2000, 20, 30, 7)) learner->add_event(e);
  learner->finish();
  return learner;
}

// One source, and the fixed blend, whose factors these tests know by heart.
RankingConfig only(CandidateSource source) {
  RankingConfig config;
  config.blend = "fixed";
  config.retrieval_candidates = config.popular_candidates = config.category_candidates = 0;
  config.recent_candidates = config.covisit_candidates = 0;
  if (source == CandidateSource::kRecent) config.recent_candidates = 10;
  if (source == CandidateSource::kCovisit) config.covisit_candidates = 50;
  if (source == CandidateSource::kCategory) config.category_candidates = 50;
  return config;
}

const Explanation& of(const std::vector<std::pair<std::string, double>>& ranking, const std::vector<Explanation>& why,
                      const std::string& item) {
  auto it = std::find_if(ranking.begin(), ranking.end(), [&](auto& r) { return r.first == item; });
  EXPECT_NE(it, ranking.end()) << item << " is not ranked";
  return why.at(static_cast<size_t>(it - ranking.begin()));
}

class ExplanationsOfBlend : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(Explanations, ExplanationsOfBlend, ::testing::Values("learned", "fixed"));

TEST_P(ExplanationsOfBlend, TheirTermsMultiplyToEachItemsScoreInTheRankingsOrder) {
  auto learner = trained_learner();
  RankingConfig config;
  config.blend = GetParam();
  config.retrieval_candidates = 40;
  config.top_k = 40;
  Ranker ranker(config, PopularityConfig{}, *learner);
  for (int n = 0; n < 3; ++n)
    ranker.add_event(make_event("v" + std::to_string(n), EventType::kClick, "v", "i" + std::to_string(n + 1),
                                2'000'000 + n * 1000));
  std::vector<Explanation> why;
  auto ranking = ranker.rank("v", {"i3", "i1"}, {}, 3'000'000, &why);
  ASSERT_EQ(why.size(), ranking.size());
  ASSERT_EQ(ranking.size(), 40u);
  std::set<std::string> sources;
  for (size_t j = 0; j < ranking.size(); ++j) {
    const Explanation& e = why[j];
    sources.insert(e.source);
    EXPECT_NEAR(e.model_score * e.category_factor * e.history_factor, ranking[j].second, 1e-9 * ranking[j].second)
        << ranking[j].first;
    EXPECT_GT(e.pctr, 0);
    EXPECT_LT(e.pctr, 1);
    EXPECT_GT(e.pcvr, 0);
    EXPECT_LT(e.pcvr, 1);
    EXPECT_GE(e.model_score, e.pctr);  // plus value_weight · pCTCVR · price
    EXPECT_EQ(e.category, "c" + std::to_string(std::stoi(ranking[j].first.substr(1)) % 4));
  }
  EXPECT_TRUE(sources.contains("recent"));
  EXPECT_TRUE(sources.contains("retrieval"));
  // Without asking, nothing is explained and the ranking is the same.
  EXPECT_EQ(ranker.rank("v", {"i3", "i1"}, {}, 3'000'000), ranking);
}

TEST(Explanations, ARecentItemIsBecauseTheUserViewedIt) {
  auto learner = trained_learner();
  Ranker ranker(only(CandidateSource::kRecent), PopularityConfig{}, *learner);
  ranker.add_event(make_event("v1", EventType::kClick, "v", "i1", 2'000'000));
  ranker.add_event(make_event("v2", EventType::kClick, "v", "i6", 2'001'000));
  std::vector<Explanation> why;
  auto ranking = ranker.rank("v", {}, {}, 3'000'000, &why);
  const Explanation& e = of(ranking, why, "i6");
  EXPECT_STREQ(e.source, "recent");
  // Viewed, and viewed with i1 (the user's own two views co-visit each other).
  EXPECT_EQ(e.because, (std::vector<std::string>{"i6", "i1"}));
  const RankingConfig defaults;
  // The newest view (position 0), co-visited once with the view before it
  // (weighed 1/2); i1 (position 1) co-visited once with the newest (weighed
  // 1: the most co-visits of any candidate).
  EXPECT_DOUBLE_EQ(e.history_factor, 1 + defaults.recent_boost + defaults.covisit_boost / 2);
  EXPECT_DOUBLE_EQ(of(ranking, why, "i1").history_factor, 1 + defaults.recent_boost / 2 + defaults.covisit_boost);
}

TEST(Explanations, ACovisitedItemIsBecauseOfTheUsersItemsViewedWithIt) {
  auto learner = trained_learner();
  Ranker ranker(only(CandidateSource::kCovisit), PopularityConfig{}, *learner);
  // Others viewed i7 right after i1, and after i5.
  ranker.add_event(make_event("a1", EventType::kClick, "a", "i1", 1'000'000));
  ranker.add_event(make_event("a2", EventType::kClick, "a", "i7", 1'001'000));
  ranker.add_event(make_event("b1", EventType::kClick, "b", "i5", 1'002'000));
  ranker.add_event(make_event("b2", EventType::kClick, "b", "i7", 1'003'000));
  ranker.add_event(make_event("v1", EventType::kClick, "v", "i1", 2'000'000));
  ranker.add_event(make_event("v2", EventType::kClick, "v", "i2", 2'001'000));
  ranker.add_event(make_event("v3", EventType::kClick, "v", "i5", 2'002'000));
  std::vector<Explanation> why;
  auto ranking = ranker.rank("v", {}, {}, 3'000'000, &why);
  const Explanation& e = of(ranking, why, "i7");
  EXPECT_STREQ(e.source, "covisit");
  EXPECT_EQ(e.because, (std::vector<std::string>{"i5", "i1"}));  // the user's views, newest first; not i2
}

TEST(Explanations, ACategoryItemIsBecauseOfTheRecentClicksOfItsCategory) {
  auto learner = trained_learner();
  Ranker ranker(only(CandidateSource::kCategory), PopularityConfig{}, *learner);
  std::vector<Explanation> why;
  // i21 and i5 are of category c1, i2 of c2: half of the recent clicks are c1.
  auto ranking = ranker.rank("u3", {"i21", "i2", "i5", "i6"}, {}, 3'000'000, &why);
  const Explanation& e = of(ranking, why, "i9");
  EXPECT_STREQ(e.source, "category");
  EXPECT_EQ(e.category, "c1");
  EXPECT_DOUBLE_EQ(e.category_share, 0.5);
  EXPECT_EQ(e.because, (std::vector<std::string>{"i21", "i5"}));
  EXPECT_DOUBLE_EQ(e.category_factor, 1 + RankingConfig{}.recent_category_boost * 0.5);
}

}  // namespace
}  // namespace streamrec::ranking

namespace streamrec::ranking {
namespace {

// The wire format's numbers are printf's "%.4g" (serving/explanation_json.h
// reads them back), NaN and infinities empty.
TEST(Explanations, NumbersAreEncodedAsPrintfWritesThemWithFourDigits) {
  const double values[] = {0,      1,        -1,      0.5,     1.0 / 3,  2.0 / 3, 12345.678, 1234.5,
                           9.9995, 0.000123456, 1e-5,  1.5e-7,  123456789, -0.25,  1e300,     30.0};
  for (double v : values) {
    Explanation why;
    why.source = "recent";
    why.pctr = v;
    char expected[64];
    std::snprintf(expected, sizeof expected, "%.4g", v);
    EXPECT_EQ(encode(why), std::string("recent|||0|") + expected + "|0|0|1|1") << v;
  }
  Explanation why;
  why.source = "popular";
  why.pctr = std::nan("");
  why.pcvr = INFINITY;
  EXPECT_EQ(encode(why), "popular|||0|||0|1|1");
}

}  // namespace
}  // namespace streamrec::ranking

