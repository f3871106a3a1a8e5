// Implicit feedback (docs/model.md, "Implicit feedback"): negatives drawn by
// popularity^0.75, the logQ correction in the loss, and
// learner.negatives_per_click: auto switching sampling on for streams
// without impressions.
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <memory>

#include "core/config.h"
#include "online_learner/byte_io.h"
#include "online_learner/catalog.h"
#include "online_learner/joiner.h"
#include "online_learner/learner.h"
#include "online_learner/loss.h"
#include "online_learner/negative_sampler.h"
#include "tests/online_learner/test_stream.h"

namespace streamrec::learner {
namespace {

using testing::make_event;
constexpr EventType kClick = EventType::kClick, kImp = EventType::kImpression;

// Pearson's chi-square of `observed` draws against probabilities `expected`.
double chi_square(const std::vector<int64_t>& observed, const std::vector<double>& expected) {
  int64_t n = 0;
  for (int64_t o : observed) n += o;
  double chi = 0;
  for (size_t i = 0; i < observed.size(); ++i) {
    double e = expected[i] * static_cast<double>(n);
    chi += (static_cast<double>(observed[i]) - e) * (static_cast<double>(observed[i]) - e) / e;
  }
  return chi;
}

TEST(NegativeSampler, DrawsItemsInProportionToPopularityToThePower075) {
  constexpr size_t kItems = 40;
  NegativeSampler sampler;
  for (size_t i = 0; i < kItems; ++i) sampler.set_available(i, true);
  for (size_t i = 0; i < kItems; ++i)
    for (size_t c = 0; c < i * i; ++c) sampler.add_count(i);  // counts 0, 1, 4, ..., 1521
  std::vector<double> expected(kItems), linear(kItems), uniform(kItems, 1.0 / kItems);
  double w_sum = 0, c_sum = 0;
  for (size_t i = 0; i < kItems; ++i) {
    expected[i] = std::pow(1.0 + static_cast<double>(i * i), 0.75);
    linear[i] = 1.0 + static_cast<double>(i * i);
    w_sum += expected[i];
    c_sum += linear[i];
  }
  for (size_t i = 0; i < kItems; ++i) {
    expected[i] /= w_sum;
    linear[i] /= c_sum;
    EXPECT_NEAR(sampler.probability(i), expected[i], 1e-12);
  }
  SplitMix rng(11);
  std::vector<int64_t> drawn(kItems, 0);
  for (int n = 0; n < 200'000; ++n) ++drawn[sampler.sample(rng)];
  // 39 degrees of freedom: the 99.9% point of chi-square is 72.1.
  EXPECT_LT(chi_square(drawn, expected), 72.1);
  // ...and the test can tell the exponent: plain popularity and uniform fail it.
  EXPECT_GT(chi_square(drawn, linear), 1000);
  EXPECT_GT(chi_square(drawn, uniform), 1000);
}

TEST(NegativeSampler, NeverDrawsUnavailableItemsAndFollowsChanges) {
  NegativeSampler sampler;
  SplitMix rng(3);
  EXPECT_EQ(sampler.sample(rng), NegativeSampler::kNone);
  for (size_t i = 0; i < 1000; ++i) sampler.set_available(i, i % 2 == 0);  // grows past its capacity
  EXPECT_EQ(sampler.available(), 500u);
  for (int n = 0; n < 20'000; ++n) EXPECT_EQ(sampler.sample(rng) % 2, 0u);
  for (size_t i = 0; i < 1000; i += 2) sampler.set_available(i, i == 500);
  EXPECT_EQ(sampler.available(), 1u);
  for (int n = 0; n < 1000; ++n) EXPECT_EQ(sampler.sample(rng), 500u);
  EXPECT_DOUBLE_EQ(sampler.probability(500), 1.0);
  EXPECT_EQ(sampler.probability(2), 0.0);
}

TEST(NegativeSampler, LogCorrectionIsLogOfNTimesQAndZeroWhenUniform) {
  NegativeSampler sampler;
  for (size_t i = 0; i < 4; ++i) sampler.set_available(i, true);
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(sampler.log_correction(i), 0.0, 1e-12);
  for (int c = 0; c < 15; ++c) sampler.add_count(3);  // weights 1, 1, 1, 16^0.75 = 8
  EXPECT_NEAR(sampler.probability(3), 8.0 / 11.0, 1e-12);
  EXPECT_NEAR(sampler.log_correction(3), std::log(4 * 8.0 / 11.0), 1e-12);
  EXPECT_NEAR(sampler.log_correction(0), std::log(4 * 1.0 / 11.0), 1e-12);
}

TEST(NegativeSampler, CountsSurviveSaveAndLoad) {
  NegativeSampler a;
  for (size_t i = 0; i < 10; ++i) a.set_available(i, true);
  for (size_t i = 0; i < 10; ++i)
    for (size_t c = 0; c < i; ++c) a.add_count(i);
  ByteWriter w;
  a.save(w);
  NegativeSampler b;
  for (size_t i = 0; i < 10; ++i) b.set_available(i, true);
  ByteReader r(w.bytes());
  ASSERT_TRUE(b.load(r));
  SplitMix ra(5), rb(5);
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(b.count(i), static_cast<int64_t>(i));
  for (int n = 0; n < 100; ++n) EXPECT_EQ(a.sample(ra), b.sample(rb));
}

// The loss with logit offsets is the loss of the shifted logits, and its
// gradient is the finite difference of that loss.
TEST(LogQCorrection, TheLossSubtractsTheOffsetFromTheClickLogit) {
  auto tasks = parse_tasks("click:binary:1,purchase:esmm:1");
  ASSERT_TRUE(tasks.ok()) << tasks.error().message;
  MultiTaskLoss loss(*tasks, false);
  const int b = 4;
  Mat logits(2, b), labels(2, b), weights = Mat::Ones(2, b), offsets = Mat::Zero(2, b);
  logits << 0.3f, -1.2f, 2.0f, 0.1f, -0.5f, 0.7f, 0.2f, -1.0f;
  labels << 1, 0, 0, 1, 0, 0, 0, 1;
  offsets.row(tasks->click_task) << 1.5f, -0.8f, 2.2f, 0.0f;
  Mat d_offset, d_shifted, d_plain;
  double with = loss.forward_backward(logits, labels, weights, d_offset, &offsets);
  double shifted = loss.forward_backward(logits - offsets, labels, weights, d_shifted);
  double plain = loss.forward_backward(logits, labels, weights, d_plain);
  EXPECT_NEAR(with, shifted, 1e-6);
  EXPECT_GT(std::abs(with - plain), 0.05) << "the offsets must change the loss";
  EXPECT_TRUE(d_offset.isApprox(d_shifted));
  // dL/dlogits by central differences, offsets held fixed.
  const float h = 1e-3f;
  for (int k = 0; k < 2; ++k)
    for (int s = 0; s < b; ++s) {
      Mat up = logits, down = logits, scratch;
      up(k, s) += h;
      down(k, s) -= h;
      double numeric = (loss.forward_backward(up, labels, weights, scratch, &offsets) -
                        loss.forward_backward(down, labels, weights, scratch, &offsets)) / (2 * h);
      EXPECT_NEAR(d_offset(k, s), numeric, 2e-3) << "task " << k << " sample " << s;
    }
}

TEST(LogQCorrection, PopularityNegativesCarryTheCatalogsCorrection) {
  Catalog catalog;
  for (const Item& item : testing::make_items(5)) catalog.update(item);
  for (int c = 0; c < 80; ++c) catalog.observe("i4");
  JoinerSettings s;
  s.negatives_per_click = 50;
  s.popularity_negatives = true;
  Joiner joiner(s, &catalog);
  std::vector<Sample> out;
  joiner.add(make_event("c1", kClick, "u", "i0", 0), {}, out);
  joiner.flush(out);
  ASSERT_EQ(out.size(), 51u);
  int popular = 0;
  for (const Sample& x : out) {
    EXPECT_FLOAT_EQ(x.log_correction, catalog.log_correction(x.item_id)) << x.item_id;
    if (!x.clicked) popular += x.item_id == "i4";
  }
  EXPECT_GT(catalog.log_correction("i4"), 0.5f);
  EXPECT_LT(catalog.log_correction("i0"), 0.0f);
  // q(i4) among i1..i4 = 81^0.75 / (3 + 27) = 0.9: far from uniform's 0.25.
  EXPECT_GT(popular, 35);
}

LearnerConfig small_config() {
  LearnerConfig c;
  c.batch_size = 16;
  c.embedding_dim = 8;
  c.experts = 2;
  c.expert_hidden = 16;
  c.tower_hidden = 8;
  c.admit_after = 1;
  return c;
}

// Each click by a user of its own, so that none joins another's samples.
std::vector<Event> clicks_only(int n) {
  std::vector<Event> events;
  for (int k = 0; k < n; ++k)
    events.push_back(make_event("c" + std::to_string(k), kClick, "u" + std::to_string(k),
                                "i" + std::to_string(k % 5), 1'000'000 + 1000 * k));
  return events;
}

TEST(ImplicitFeedback, ByDefaultAStreamWithoutImpressionsLearns) {
  LearnerConfig config = small_config();
  ASSERT_EQ(config.negatives_per_click, "auto");
  auto l = Learner::create(config);
  ASSERT_TRUE(l.ok()) << l.error().message;
  for (const Item& item : testing::make_items(20)) (*l)->add_item(item);
  for (const Event& e : clicks_only(200)) (*l)->add_event(e);
  (*l)->finish();
  EXPECT_EQ((*l)->joiner_counters().sampled_negatives, 200u * 4);
  EXPECT_EQ((*l)->joiner_counters().samples, 200u * 5);
  EXPECT_GE((*l)->samples_learned(), 200u * 5);
}

TEST(ImplicitFeedback, AutoStopsSamplingOnceImpressionsArrive) {
  Catalog catalog;
  for (const Item& item : testing::make_items(10)) catalog.update(item);
  JoinerSettings s;
  s.negatives_per_click = 4;
  s.negatives_until_impressions = true;
  Joiner joiner(s, &catalog);
  std::vector<Sample> out;
  joiner.add(make_event("c1", kClick, "u", "i1", 0), {}, out);
  EXPECT_EQ(joiner.counters().sampled_negatives, 4u);
  joiner.add(make_event("m1", kImp, "u", "i2", 10), {}, out);
  joiner.add(make_event("c2", kClick, "u", "elsewhere", 20), {}, out);  // joins nothing: an orphan now
  joiner.flush(out);
  EXPECT_EQ(joiner.counters().sampled_negatives, 4u);
  EXPECT_EQ(joiner.counters().orphan_clicks, 2u);
}

TEST(ImplicitFeedback, WithSamplingOffAStreamWithoutSamplesSaysWhy) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);
  spdlog::default_logger()->sinks().push_back(sink);
  LearnerConfig config = small_config();
  config.negatives_per_click = "0";
  auto l = Learner::create(config);
  ASSERT_TRUE(l.ok());
  for (const Item& item : testing::make_items(20)) (*l)->add_item(item);
  for (const Event& e : clicks_only(1500)) (*l)->add_event(e);
  spdlog::default_logger()->sinks().pop_back();
  EXPECT_EQ((*l)->samples_learned(), 0u);
  int warnings = 0;
  for (const std::string& line : sink->last_formatted()) {
    if (line.find("no training sample") == std::string::npos) continue;
    ++warnings;
    EXPECT_NE(line.find("negatives_per_click is 0"), std::string::npos) << line;
  }
  EXPECT_EQ(warnings, 1) << "once, not per event";
}

TEST(ImplicitFeedback, TheConfigTakesAutoOrACount) {
  auto set = [](const std::string& kv) { return load_config(ConfigSources{"", {}, {kv}}); };
  auto seven = set("learner.negatives_per_click=7");
  ASSERT_TRUE(seven.ok()) << seven.error().message;
  EXPECT_EQ(seven->learner.negatives_per_click, "7");
  auto bad = set("learner.negatives_per_click=some");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("learner.negatives_per_click"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(set("learner.negative_sampling=random").ok());
  LearnerConfig direct;  // set in code, past the config's checks
  direct.negatives_per_click = "\x02";
  auto refused = Learner::create(direct);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("learner.negatives_per_click"), std::string::npos);
}

}  // namespace
}  // namespace streamrec::learner
