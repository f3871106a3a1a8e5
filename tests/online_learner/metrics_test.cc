// Progressive-validation metrics: exact AUC against a brute-force pair count.
#include <gtest/gtest.h>

#include <cmath>

#include "online_learner/metrics.h"
#include "online_learner/parameter.h"

namespace streamrec::learner {
namespace {

double brute_force_auc(const std::vector<float>& p, const std::vector<float>& y) {
  double wins = 0, pairs = 0;
  for (size_t i = 0; i < p.size(); ++i)
    for (size_t j = 0; j < p.size(); ++j)
      if (y[i] > 0.5f && y[j] < 0.5f) {
        pairs += 1;
        wins += p[i] > p[j] ? 1 : p[i] == p[j] ? 0.5 : 0;
      }
  return wins / pairs;
}

TEST(MetricSeries, AucMatchesBruteForceWithTies) {
  SplitMix rng(11);
  for (int trial = 0; trial < 20; ++trial) {
    MetricSeries m;
    std::vector<float> p, y;
    for (int i = 0; i < 300; ++i) {
      // Negative and positive scores, many ties on odd trials, and -0 (equal to +0).
      const int range = trial % 2 ? 10 : 1000;
      float score = static_cast<float>(static_cast<int>(rng.below(static_cast<uint64_t>(range))) - range / 2) / 10;
      if (score == 0 && rng.below(2) == 0) score = -0.0f;
      float label = rng.uniform() < 0.3 + 0.05 * score / 10 ? 1.0f : 0.0f;
      p.push_back(score);
      y.push_back(label);
      m.add(score, label);
    }
    EXPECT_NEAR(m.whole().auc, brute_force_auc(p, y), 1e-12) << trial;
    std::vector<float> tp(p.begin() + 240, p.end()), ty(y.begin() + 240, y.end());
    EXPECT_NEAR(m.tail(0.2).auc, brute_force_auc(tp, ty), 1e-12);
    EXPECT_NEAR(m.window(60).auc, brute_force_auc(tp, ty), 1e-12);
  }
}

TEST(MetricSeries, CapKeepsTheNewestPairs) {
  MetricSeries m;
  m.set_cap(100);
  for (int i = 0; i < 450; ++i) m.add(static_cast<float>(i), i % 2 ? 1.0f : 0.0f);
  EXPECT_EQ(m.dropped(), 300u);
  EXPECT_EQ(m.size(), 150u);
  MetricSeries fresh;
  for (int i = 300; i < 450; ++i) fresh.add(static_cast<float>(i), i % 2 ? 1.0f : 0.0f);
  EXPECT_DOUBLE_EQ(m.whole().auc, fresh.whole().auc);
  EXPECT_DOUBLE_EQ(m.whole().logloss, fresh.whole().logloss);
}

TEST(MetricSeries, PerfectReversedAndUndefined) {
  MetricSeries m;
  m.add(0.9f, 1);
  m.add(0.1f, 0);
  EXPECT_DOUBLE_EQ(m.whole().auc, 1.0);
  MetricSeries r;
  r.add(0.1f, 1);
  r.add(0.9f, 0);
  EXPECT_DOUBLE_EQ(r.whole().auc, 0.0);
  MetricSeries one;
  one.add(0.5f, 1);
  EXPECT_TRUE(std::isnan(one.whole().auc));
}

TEST(MetricSeries, LogLossAndCalibration) {
  MetricSeries m;
  m.add(0.8f, 1);
  m.add(0.2f, 0);
  m.add(0.5f, 0);
  m.add(0.5f, 1);
  SeriesSummary s = m.whole();
  EXPECT_NEAR(s.logloss, -(std::log(0.8) + std::log(0.8) + 2 * std::log(0.5)) / 4, 1e-6);
  EXPECT_NEAR(s.calibration, (0.8 + 0.2 + 0.5 + 0.5) / 2, 1e-6);
  EXPECT_EQ(s.count, 4u);
}

TEST(MetricSeries, ACopyOfTheLastPairsScoresAsTheirWindow) {
  MetricSeries series;
  const float predictions[] = {0.9f, 0.1f, 0.8f, 0.3f, 0.6f, 0.2f, 0.7f};
  const float labels[] = {0, 1, 1, 0, 1, 0, 0};
  for (size_t i = 0; i < std::size(labels); ++i) series.add(predictions[i], labels[i]);
  MetricSeries last4 = series.copy_last(4);
  EXPECT_EQ(last4.size(), 4u);
  EXPECT_DOUBLE_EQ(last4.whole().auc, series.window(4).auc);
  EXPECT_NE(last4.whole().auc, series.whole().auc);  // the window differs from the whole here
  EXPECT_EQ(series.copy_last(0).size(), series.size());
  EXPECT_DOUBLE_EQ(series.copy_last(100).whole().auc, series.whole().auc);
}

TEST(MetricSeries, ACopyThatCatchesUpEqualsTheSeriesAcrossDrops) {
  MetricSeries series, copy;
  series.set_cap(100);
  auto record = [&](int from, int to) {
    for (int i = from; i < to; ++i) series.add(static_cast<float>((i * 37) % 101), i % 3 ? 0.0f : 1.0f);
  };
  auto expect_equal = [&](const char* when) {
    SCOPED_TRACE(when);
    ASSERT_EQ(copy.size(), series.size());
    EXPECT_EQ(copy.dropped(), series.dropped());
    EXPECT_DOUBLE_EQ(copy.whole().auc, series.whole().auc);
    EXPECT_DOUBLE_EQ(copy.whole().logloss, series.whole().logloss);
  };
  record(0, 150);
  copy.catch_up(series);  // first time: the whole series
  expect_equal("first");
  record(150, 260);  // the series drops its oldest 100 on the way
  copy.catch_up(series);
  expect_equal("after a drop");
  copy.catch_up(series);  // nothing new
  expect_equal("nothing new");
  record(260, 700);  // the copy fell behind what the series keeps
  copy.catch_up(series);
  expect_equal("fell behind");
}

}  // namespace
}  // namespace streamrec::learner
