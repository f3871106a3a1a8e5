// The delayed-feedback modes (learner.feedback) on hand-written event
// sequences: what the joiner emits when, for fake_negative and defer, and
// that the learner records each impression once, against the score it had
// when shown, with its final labels.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <queue>

#include "online_learner/byte_io.h"
#include "online_learner/joiner.h"
#include "online_learner/learner.h"
#include "tests/online_learner/test_stream.h"

namespace streamrec::learner {
namespace {

using testing::make_event;
constexpr int64_t kMin = 60'000, kHour = 60 * kMin, kDay = 24 * kHour;
constexpr EventType kImp = EventType::kImpression, kClick = EventType::kClick, kBuy = EventType::kPurchase;

JoinerSettings settings(Feedback feedback) {
  JoinerSettings s;
  s.click_window_ms = 10 * kMin;
  s.purchase_window_ms = 2 * kDay;
  s.feedback = feedback;
  return s;
}

struct Stream {
  explicit Stream(Feedback feedback) : joiner(settings(feedback), nullptr) {}
  Stream& operator<<(const Event& e) {
    joiner.add(e, {}, out);
    return *this;
  }
  // The copies emitted since the last call.
  std::vector<Sample> take() {
    std::vector<Sample> taken(out.begin() + static_cast<std::ptrdiff_t>(seen), out.end());
    seen = out.size();
    return taken;
  }
  Joiner joiner;
  std::vector<Sample> out;
  size_t seen = 0;
};

// A copy as (event_id, learns, finalizes, clicked, purchased).
struct Copy {
  std::string id;
  uint8_t learns, finalizes;
  bool clicked, purchased;
  bool operator==(const Copy&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Copy& c) {
  return os << "{" << c.id << " learns " << int(c.learns) << " finalizes " << int(c.finalizes) << " clicked "
            << c.clicked << " purchased " << c.purchased << "}";
}
std::vector<Copy> copies(const std::vector<Sample>& samples) {
  std::vector<Copy> out;
  for (const Sample& s : samples) out.push_back(Copy{s.event_id, s.learns, s.finalizes, s.clicked, s.purchased});
  return out;
}

TEST(FakeNegative, AnImpressionIsLearnedAtOnceAsANegativeAndItsClickAsAPositiveCopy) {
  Stream r(Feedback::kFakeNegative);
  r << make_event("i1", kImp, "u", "a", 0, "r1");
  EXPECT_EQ(copies(r.take()), (std::vector<Copy>{{"i1", kBothLabels, 0, false, false}}))
      << "the shown copy: a negative of both tasks, no label final yet";
  r << make_event("c1", kClick, "u", "a", 2 * kMin, "r1");
  EXPECT_EQ(copies(r.take()), (std::vector<Copy>{{"i1", kClickLabel, 0, true, false}}))
      << "the click after the fake negative: a positive copy of the click task, at once";
  r << make_event("x", kImp, "w", "z", 10 * kMin + 1);
  EXPECT_EQ(copies(r.take()), (std::vector<Copy>{{"i1", 0, kClickLabel, true, false}, {"x", kBothLabels, 0, false, false}}))
      << "at the click deadline the click label is final: recorded, nothing learned";
}

TEST(FakeNegative, APurchaseADayAfterTheClickIsLearnedWhenItArrives) {
  Stream r(Feedback::kFakeNegative);
  r << make_event("i1", kImp, "u", "a", 0) << make_event("c1", kClick, "u", "a", kMin);
  r.take();
  r << make_event("x", kImp, "w", "z", kDay);
  r.take();
  r << make_event("p1", kBuy, "u", "a", kDay + kMin);
  EXPECT_EQ(copies(r.take()), (std::vector<Copy>{{"i1", kPurchaseLabel, 0, true, true}}))
      << "a positive copy of the purchase task, 24 h after the impression";
  r << make_event("y", kImp, "w", "z", 2 * kDay + kMin + 1);
  EXPECT_EQ(copies(r.take()), (std::vector<Copy>{{"x", 0, kBothLabels, false, false},
                                                 {"i1", 0, kPurchaseLabel, true, true},
                                                 {"y", kBothLabels, 0, false, false}}))
      << "i1's purchase label is final at its purchase deadline, two days after the click";
  EXPECT_EQ(r.joiner.counters().joined_purchases, 1u);
  EXPECT_EQ(r.joiner.counters().samples, 2u) << "x's labels became final at its click deadline";
}

TEST(FakeNegative, AnUnclickedImpressionFinalizesBothLabelsAtTheClickDeadline) {
  Stream r(Feedback::kFakeNegative);
  r << make_event("i1", kImp, "u", "a", 0) << make_event("x", kImp, "w", "z", 10 * kMin + 1);
  EXPECT_EQ(copies(r.take()), (std::vector<Copy>{{"i1", kBothLabels, 0, false, false},
                                                 {"i1", 0, kBothLabels, false, false},
                                                 {"x", kBothLabels, 0, false, false}}));
}

TEST(FakeNegative, DuplicateEventsAddNoCopies) {
  Stream r(Feedback::kFakeNegative);
  r << make_event("i1", kImp, "u", "a", 0) << make_event("i1", kImp, "u", "a", 0)
    << make_event("c1", kClick, "u", "a", kMin) << make_event("c1", kClick, "u", "a", kMin)
    << make_event("p1", kBuy, "u", "a", 2 * kMin) << make_event("p1", kBuy, "u", "a", 2 * kMin);
  EXPECT_EQ(copies(r.take()), (std::vector<Copy>{{"i1", kBothLabels, 0, false, false},
                                                 {"i1", kClickLabel, 0, true, false},
                                                 {"i1", kPurchaseLabel, 0, true, true}}));
  EXPECT_EQ(r.joiner.counters().duplicates, 3u);
}

TEST(FakeNegative, EndOfStreamFinalizesWhatIsPendingAndLearnsNothingNew) {
  Stream r(Feedback::kFakeNegative);
  r << make_event("i1", kImp, "u", "a", 0) << make_event("c1", kClick, "u", "a", kMin)
    << make_event("i2", kImp, "u", "b", 2 * kMin);
  r.take();
  r.joiner.flush(r.out);
  EXPECT_EQ(copies(r.take()),
            (std::vector<Copy>{{"i1", 0, kBothLabels, true, false}, {"i2", 0, kBothLabels, false, false}}));
}

TEST(Defer, ARealNegativeIsLearnedAgainWhenItsWindowCloses) {
  Stream r(Feedback::kDefer);
  r << make_event("i1", kImp, "u", "a", 0) << make_event("i2", kImp, "u", "b", 0)
    << make_event("c2", kClick, "u", "b", kMin);
  EXPECT_EQ(copies(r.take()), (std::vector<Copy>{{"i1", kBothLabels, 0, false, false},
                                                 {"i2", kBothLabels, 0, false, false},
                                                 {"i2", kClickLabel, 0, true, false}}));
  r << make_event("x", kImp, "w", "z", 10 * kMin + 1);
  EXPECT_EQ(copies(r.take()), (std::vector<Copy>{{"i1", kBothLabels, kBothLabels, false, false},
                                                 {"i2", 0, kClickLabel, true, false},
                                                 {"x", kBothLabels, 0, false, false}}))
      << "i1 (unclicked): both negatives again; i2 (clicked): its click was learned already";
  r << make_event("y", kImp, "w", "z", 2 * kDay + kMin + 1);
  auto last = copies(r.take());
  ASSERT_GE(last.size(), 2u);
  EXPECT_EQ(last[1], (Copy{"i2", kPurchaseLabel, kPurchaseLabel, true, false}))
      << "clicked, never bought: the purchase negative again at the purchase deadline";
}

TEST(Defer, APurchasedImpressionIsNotLearnedAgainAtItsDeadline) {
  Stream r(Feedback::kDefer);
  r << make_event("i1", kImp, "u", "a", 0) << make_event("c1", kClick, "u", "a", kMin)
    << make_event("p1", kBuy, "u", "a", kDay);
  EXPECT_EQ(copies(r.take()).back(), (Copy{"i1", kPurchaseLabel, 0, true, true}));
  r << make_event("y", kImp, "w", "z", 2 * kDay + kMin + 1);
  EXPECT_EQ(copies(r.take()).front(), (Copy{"i1", 0, kPurchaseLabel, true, true}));
}

// A restart (save, load into a new joiner) between the impression and its
// click, and between the click and its purchase a day later: the copies are
// those of one uninterrupted run.
TEST(FeedbackModes, ARestartBetweenTheEventsChangesNoCopy) {
  for (Feedback feedback : {Feedback::kWindowed, Feedback::kFakeNegative, Feedback::kDefer}) {
    SCOPED_TRACE(static_cast<int>(feedback));
    const std::vector<Event> events = {
        make_event("i1", kImp, "u", "a", 0),          make_event("i2", kImp, "u", "b", 0),
        make_event("c1", kClick, "u", "a", kMin),     make_event("x", kImp, "w", "z", 20 * kMin),
        make_event("p1", kBuy, "u", "a", kDay),       make_event("y", kImp, "w", "z", 3 * kDay)};
    Stream whole(feedback);
    for (const Event& e : events) whole << e;
    whole.joiner.flush(whole.out);

    std::vector<Sample> joined;
    Stream first(feedback);
    first << events[0] << events[1];
    ByteWriter w1;
    first.joiner.save(w1);
    joined = first.out;
    Stream second(feedback);
    ByteReader in1(w1.bytes());
    ASSERT_TRUE(second.joiner.load(in1)) << in1.error();
    second << events[2] << events[3];
    ByteWriter w2;
    second.joiner.save(w2);
    joined.insert(joined.end(), second.out.begin(), second.out.end());
    Stream third(feedback);
    ByteReader in2(w2.bytes());
    ASSERT_TRUE(third.joiner.load(in2)) << in2.error();
    third << events[4] << events[5];
    third.joiner.flush(third.out);
    joined.insert(joined.end(), third.out.begin(), third.out.end());
    EXPECT_EQ(copies(joined), copies(whole.out));
    EXPECT_EQ(third.joiner.counters().joined_purchases, 1u);
  }
}

// The learner under each mode: every impression's final labels are recorded
// once, against the score it had when shown (before any copy of it was
// learned), whatever copies were learned in between.
TEST(FeedbackModes, TheLearnerRecordsEachImpressionOnceWithItsShownScoreAndFinalLabels) {
  for (const char* mode : {"windowed", "fake_negative", "defer"}) {
    SCOPED_TRACE(mode);
    LearnerConfig c;
    c.embedding_dim = 4;
    c.experts = 1;
    c.expert_hidden = 8;
    c.tower_hidden = 4;
    c.batch_size = 1;  // learn every copy the moment it is emitted
    c.click_window_s = 600;
    c.purchase_window_s = 2 * 86400;
    c.feedback = mode;
    auto created = Learner::create(c);
    ASSERT_TRUE(created.ok()) << created.error().message;
    Learner& l = **created;
    std::vector<std::pair<std::string, Scores>> recorded;
    l.set_sink([&](const Sample& s, const Scores& p) { recorded.emplace_back(s.event_id, p); });
    // The score i1 gets when shown: that of an identical impression scored
    // by an identical learner at that moment.
    auto twin = Learner::create(c);
    ASSERT_TRUE(twin.ok());
    std::vector<std::pair<std::string, Scores>> twin_recorded;
    (*twin)->set_sink([&](const Sample& s, const Scores& p) { twin_recorded.emplace_back(s.event_id, p); });
    (*twin)->add_event(make_event("i1", kImp, "u", "a", 0));
    (*twin)->finish();
    ASSERT_EQ(twin_recorded.size(), 1u);

    l.add_event(make_event("i1", kImp, "u", "a", 0));
    l.add_event(make_event("c1", kClick, "u", "a", kMin));
    l.add_event(make_event("x", kImp, "w", "z", 20 * kMin));
    l.add_event(make_event("p1", kBuy, "u", "a", kDay));
    l.add_event(make_event("y", kImp, "w", "z", 3 * kDay));
    l.finish();
    ASSERT_EQ(recorded.size(), 3u);
    EXPECT_EQ(recorded[0].first, "x") << "x's labels were final at its click deadline, i1's at its purchase deadline";
    EXPECT_EQ(recorded[1].first, "i1");
    EXPECT_EQ(recorded[1].second.p_click, twin_recorded[0].second.p_click);
    EXPECT_EQ(recorded[1].second.p_ctcvr, twin_recorded[0].second.p_ctcvr);
    const MetricSeries* click = nullptr;
    for (const auto& [name, s] : l.series())
      if (name == "click") click = &s;
    ASSERT_NE(click, nullptr);
    EXPECT_EQ(click->size(), 3u);
    EXPECT_EQ(l.samples_learned(), 3u);
  }
}

// Immediate feedback scores an impression in the forward pass of the batch
// that learns its shown copy (one pass per impression): that score is the
// one a pass of its own on the same model gives. Learner A learns i1's
// shown copy in a batch with i2; twin B, identical up to i1, finalizes i1's
// click label before learning it (x comes after i1's click deadline), so it
// scores i1 in a pass of its own. Both learned w1 and w2 first: same model.
TEST(FeedbackModes, AnImpressionLearnedInABatchIsScoredByThatBatchsForwardPassAsByAPassOfItsOwn) {
  for (const char* mode : {"fake_negative", "defer"}) {
    SCOPED_TRACE(mode);
    LearnerConfig c;
    c.embedding_dim = 4;
    c.experts = 2;
    c.expert_hidden = 8;
    c.tower_hidden = 4;
    c.batch_size = 2;
    c.click_window_s = 600;
    c.feedback = mode;
    std::map<std::string, Scores> a_scores, b_scores;
    auto a = Learner::create(c), b = Learner::create(c);
    ASSERT_TRUE(a.ok() && b.ok());
    (*a)->set_sink([&](const Sample& s, const Scores& p) { a_scores.emplace(s.event_id, p); });
    (*b)->set_sink([&](const Sample& s, const Scores& p) { b_scores.emplace(s.event_id, p); });
    for (Learner* l : {a->get(), b->get()}) {
      l->add_event(make_event("w1", kImp, "u", "a", 0));
      l->add_event(make_event("w2", kImp, "u", "a", 1000));
      l->add_event(make_event("i1", kImp, "u", "a", 2000));
    }
    (*a)->add_event(make_event("i2", kImp, "v", "b", 3000));
    (*b)->add_event(make_event("x", kImp, "v", "b", 20 * kMin));
    EXPECT_EQ(b_scores.count("i1"), 1u) << "i1's click label final before i1 was learned";
    EXPECT_EQ(a_scores.count("i1"), 0u);
    (*a)->finish();
    (*b)->finish();
    ASSERT_EQ(a_scores.count("i1"), 1u);
    ASSERT_EQ(b_scores.count("i1"), 1u);
    EXPECT_NEAR(a_scores["i1"].p_click, b_scores["i1"].p_click, 1e-6);
    EXPECT_NEAR(a_scores["i1"].p_ctcvr, b_scores["i1"].p_ctcvr, 1e-7);
    EXPECT_NE(a_scores["i1"].p_click, a_scores["w1"].p_click) << "the model learned w1 and w2 before i1";
  }
}

// Calibration on a long stationary stream: every impression clicked with
// probability 0.3, a click bought with probability 0.5 up to three hours
// later; with immediate feedback the mean prediction over the later part of
// the stream is within 10% of the true rates on both tasks. Without the
// importance weights the fake negatives bias it down (pCTR towards
// 0.3 / 1.3, 23% low; pCTCVR towards 0.15 / 1.15, 13% low). Windowed
// feedback is calibrated on clicks; its pCTCVR lags (docs/model.md).
TEST(FeedbackModes, CalibrationOnAStationaryStreamConvergesToTheTrueRates) {
  constexpr double kCtr = 0.3, kCvr = 0.5;
  SplitMix rng(11);
  std::vector<Event> events;
  int64_t ts = 0;
  struct Later {
    int64_t ts;
    Event e;
    bool operator>(const Later& o) const { return ts > o.ts; }
  };
  std::priority_queue<Later, std::vector<Later>, std::greater<>> later;  // earliest on top
  for (int n = 0; n < 80'000; ++n) {
    ts += 500;
    std::string id = "e" + std::to_string(n), user = "u" + std::to_string(rng.below(50)),
                item = "i" + std::to_string(rng.below(20));
    // Release the delayed events that are due, in event-time order.
    while (!later.empty() && later.top().ts <= ts) {
      events.push_back(later.top().e);
      later.pop();
    }
    events.push_back(make_event(id, kImp, user, item, ts));
    if (rng.uniform() < kCtr) {
      int64_t click_ts = ts + 1000 + static_cast<int64_t>(rng.below(5 * kMin));
      later.push({click_ts, make_event(id + "c", kClick, user, item, click_ts)});
      if (rng.uniform() < kCvr) {
        int64_t buy_ts = click_ts + static_cast<int64_t>(rng.below(3 * kHour));
        later.push({buy_ts, make_event(id + "p", kBuy, user, item, buy_ts)});
      }
    }
  }
  for (bool uncertainty : {true, false})  // learned task weights (the default) or fixed ones
  for (const char* mode : {"windowed", "fake_negative", "defer"}) {
    SCOPED_TRACE(mode);
    SCOPED_TRACE(uncertainty ? "uncertainty weighting" : "fixed task weights");
    LearnerConfig c;
    c.embedding_dim = 4;
    c.experts = 1;
    c.expert_hidden = 8;
    c.tower_hidden = 4;
    c.click_window_s = 600;
    c.purchase_window_s = 4 * 3600;  // longer than any purchase delay: labels are the true ones
    c.uncertainty_weighting = uncertainty;
    c.feedback = mode;
    auto created = Learner::create(c);
    ASSERT_TRUE(created.ok()) << created.error().message;
    Learner& l = **created;
    for (const Event& e : events) l.add_event(e);
    l.finish();
    for (const auto& [name, s] : l.series()) {
      if (name != "click" && (name != "ctcvr" || std::string(mode) == "windowed")) continue;
      SCOPED_TRACE(name);
      const double truth = name == "click" ? kCtr : kCtr * kCvr;
      // The last 40% of the impressions, all labels final well before the end.
      auto tail = s.summarize(s.size() * 5 / 10, s.size() * 9 / 10);
      const double mean_prediction = tail.calibration * tail.mean_label;
      EXPECT_NEAR(mean_prediction / truth, 1.0, 0.1) << "mean prediction " << mean_prediction;
    }
  }
}

}  // namespace
}  // namespace streamrec::learner
