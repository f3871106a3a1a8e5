// The joiner's label rules (DESIGN.md, "Samples and labels") on hand-written
// event sequences.
#include <gtest/gtest.h>

#include "online_learner/byte_io.h"
#include "online_learner/joiner.h"
#include "tests/online_learner/test_stream.h"

namespace streamrec::learner {
namespace {

using testing::make_event;
constexpr int64_t kMin = 60'000;
constexpr EventType kImp = EventType::kImpression, kClick = EventType::kClick, kBuy = EventType::kPurchase;

struct Stream {
  explicit Stream(JoinerSettings s = {}, const Catalog* catalog = nullptr) : joiner(s, catalog) {}
  Stream& operator<<(const Event& e) {
    joiner.add(e, {}, out);
    return *this;
  }
  const Sample* find(const std::string& id) const {
    for (const Sample& s : out)
      if (s.event_id == id) return &s;
    return nullptr;
  }
  Joiner joiner;
  std::vector<Sample> out;
};

TEST(Joiner, ClickInWindowAndPurchaseInWindowLabelBoth) {
  JoinerSettings one_stage;
  one_stage.early_clicks = false;
  Stream r(one_stage);
  r << make_event("i1", kImp, "u", "a", 0, "r1") << make_event("c1", kClick, "u", "a", 5 * kMin, "r1")
    << make_event("p1", kBuy, "u", "a", 50 * kMin, "r1");
  EXPECT_TRUE(r.out.empty()) << "labels are released at the purchase deadline, never earlier";
  r << make_event("x", kImp, "w", "z", 65 * kMin + 1);
  ASSERT_EQ(r.out.size(), 1u);
  EXPECT_EQ(r.out[0].learns, kBothLabels);
  EXPECT_EQ(r.out[0].finalizes, kBothLabels);
  EXPECT_TRUE(r.out[0].clicked);
  EXPECT_TRUE(r.out[0].purchased);
  EXPECT_EQ(r.joiner.counters().joined_clicks, 1u);
  EXPECT_EQ(r.joiner.counters().joined_purchases, 1u);
}

TEST(Joiner, EarlyClicksReleaseTheClickAtTheClickDeadlineAndThePurchaseLater) {
  Stream r;  // early_clicks is the default
  r << make_event("i1", kImp, "u", "a", 0) << make_event("i2", kImp, "u", "b", 0)
    << make_event("c1", kClick, "u", "a", kMin);
  EXPECT_TRUE(r.out.empty()) << "a click waits for its click deadline like a non-click";
  r << make_event("x", kImp, "w", "z", 10 * kMin + 1);
  ASSERT_EQ(r.out.size(), 2u) << "both labels are final at the same moment";
  EXPECT_EQ(r.out[0].event_id, "i1");
  EXPECT_EQ(r.out[0].learns, kClickLabel);
  EXPECT_EQ(r.out[0].finalizes, kClickLabel);
  EXPECT_TRUE(r.out[0].clicked);
  EXPECT_EQ(r.out[1].event_id, "i2");
  EXPECT_EQ(r.out[1].learns, kBothLabels);
  EXPECT_EQ(r.out[1].finalizes, kBothLabels);
  EXPECT_FALSE(r.out[1].clicked);
  r << make_event("p1", kBuy, "u", "a", 20 * kMin);
  EXPECT_EQ(r.out.size(), 2u);
  r << make_event("y", kImp, "w", "z", 61 * kMin + 1);
  ASSERT_EQ(r.out.size(), 4u);  // x's negative, then i1's purchase stage
  const Sample& purchase = r.out[3];
  EXPECT_EQ(purchase.event_id, "i1");
  EXPECT_EQ(purchase.learns, kPurchaseLabel);
  EXPECT_EQ(purchase.finalizes, kPurchaseLabel);
  EXPECT_TRUE(purchase.purchased);
  EXPECT_EQ(r.joiner.counters().samples, 3u) << "stages of one impression count once";
}

TEST(Joiner, UnclickedImpressionIsEmittedWhenTheWatermarkPassesTheClickWindow) {
  Stream r;
  r << make_event("i1", kImp, "u", "a", 0) << make_event("i2", kImp, "v", "b", 10 * kMin);
  EXPECT_TRUE(r.out.empty()) << "exactly at the deadline the click could still come";
  r << make_event("i3", kImp, "v", "b", 10 * kMin + 1);
  ASSERT_EQ(r.out.size(), 1u);
  EXPECT_EQ(r.out[0].event_id, "i1");
  EXPECT_FALSE(r.out[0].clicked);
}

TEST(Joiner, LateClickIsCountedAndLeavesTheNegative) {
  Stream r;
  r << make_event("i1", kImp, "u", "a", 0) << make_event("c1", kClick, "u", "a", 11 * kMin);
  ASSERT_NE(r.find("i1"), nullptr);
  EXPECT_FALSE(r.find("i1")->clicked);
  EXPECT_EQ(r.joiner.counters().late_clicks, 1u);
  EXPECT_EQ(r.joiner.counters().joined_clicks, 0u);
}

TEST(Joiner, ClickedButPurchaseAfterWindowIsLatePurchase) {
  Stream r;
  r << make_event("i1", kImp, "u", "a", 0) << make_event("c1", kClick, "u", "a", kMin)
    << make_event("p1", kBuy, "u", "a", 62 * kMin);
  ASSERT_NE(r.find("i1"), nullptr);
  EXPECT_TRUE(r.find("i1")->clicked);
  EXPECT_FALSE(r.find("i1")->purchased);
  EXPECT_EQ(r.joiner.counters().late_purchases, 1u);
}

TEST(Joiner, OrphanClickAndOrphanPurchaseAreCounted) {
  Stream r;
  r << make_event("c1", kClick, "u", "a", 0) << make_event("p1", kBuy, "w", "z", 1);
  EXPECT_TRUE(r.out.empty());
  EXPECT_EQ(r.joiner.counters().orphan_clicks, 1u);
  EXPECT_EQ(r.joiner.counters().orphan_purchases, 1u);
}

TEST(Joiner, PurchaseWithoutClickIsCountedNotLabelled) {
  Stream r;
  r << make_event("i1", kImp, "u", "a", 0) << make_event("p1", kBuy, "u", "a", kMin);
  r.joiner.flush(r.out);
  ASSERT_EQ(r.out.size(), 1u);
  EXPECT_FALSE(r.out[0].purchased);
  EXPECT_EQ(r.joiner.counters().purchases_without_click, 1u);
}

TEST(Joiner, DuplicateEventIdsAreDropped) {
  Stream r;
  r << make_event("i1", kImp, "u", "a", 0) << make_event("i1", kImp, "u", "a", 0)
    << make_event("c1", kClick, "u", "a", 1) << make_event("c1", kClick, "u", "a", 1);
  r.joiner.flush(r.out);
  EXPECT_EQ(r.out.size(), 1u);
  EXPECT_EQ(r.joiner.counters().duplicates, 2u);
  EXPECT_EQ(r.joiner.counters().joined_clicks, 1u);
  EXPECT_EQ(r.joiner.counters().orphan_clicks, 0u);
}

TEST(Joiner, RequestIdMismatchDoesNotJoin) {
  Stream r;
  r << make_event("i1", kImp, "u", "a", 0, "r1") << make_event("c1", kClick, "u", "a", kMin, "r2");
  r.joiner.flush(r.out);
  ASSERT_EQ(r.out.size(), 1u);
  EXPECT_FALSE(r.out[0].clicked);
  EXPECT_EQ(r.joiner.counters().request_mismatches, 1u);
}

TEST(Joiner, RequestIdPicksTheRightImpressionOfTheSameItem) {
  Stream r;
  r << make_event("i1", kImp, "u", "a", 0, "r1") << make_event("i2", kImp, "u", "a", 10, "r2")
    << make_event("c1", kClick, "u", "a", kMin, "r1");
  r.joiner.flush(r.out);
  ASSERT_EQ(r.out.size(), 2u);
  EXPECT_TRUE(r.find("i1")->clicked);
  EXPECT_FALSE(r.find("i2")->clicked);
}

TEST(Joiner, WithoutRequestIdTheLatestImpressionBeforeTheClickJoins) {
  Stream r;
  r << make_event("i1", kImp, "u", "a", 0) << make_event("i2", kImp, "u", "a", 10)
    << make_event("c1", kClick, "u", "a", 20) << make_event("i3", kImp, "u", "a", 30);
  r.joiner.flush(r.out);
  EXPECT_FALSE(r.find("i1")->clicked);
  EXPECT_TRUE(r.find("i2")->clicked);
  EXPECT_FALSE(r.find("i3")->clicked);
}

TEST(Joiner, PendingIsBoundedOldestFlushedFirst) {
  JoinerSettings s;
  s.max_pending = 2;
  Stream r(s);
  r << make_event("i1", kImp, "u", "a", 0) << make_event("i2", kImp, "u", "b", 1)
    << make_event("i3", kImp, "u", "c", 2);
  ASSERT_EQ(r.out.size(), 1u);
  EXPECT_EQ(r.out[0].event_id, "i1");
  EXPECT_EQ(r.joiner.counters().flushed_pending, 1u);
  EXPECT_EQ(r.joiner.pending(), 2u);
  r << make_event("c1", kClick, "u", "a", 3);
  EXPECT_EQ(r.joiner.counters().late_clicks, 1u) << "its impression is gone: late, not orphan";
}

TEST(Joiner, AnImpressionKeepsTheRecentClicksGivenWithItAndOtherEventsIgnoreThem) {
  Joiner joiner(JoinerSettings{}, nullptr);
  std::vector<Sample> out;
  joiner.add(make_event("i1", kImp, "u", "a", 0), {}, out);
  joiner.add(make_event("c1", kClick, "u", "a", 1), {"ignored"}, out);  // joins i1: no sample of its own
  joiner.add(make_event("i2", kImp, "u", "b", 2), {"a"}, out);
  joiner.add(make_event("i3", kImp, "u", "c", 5), {"z", "b"}, out);
  joiner.flush(out);
  auto bag_of = [&](const std::string& id) {
    for (const Sample& s : out)
      if (s.event_id == id) return s.recent_clicks;
    ADD_FAILURE() << id << " not emitted";
    return RecentClicks{};
  };
  EXPECT_TRUE(bag_of("i1").empty());
  EXPECT_EQ(bag_of("i2"), (RecentClicks{"a"}));
  EXPECT_EQ(bag_of("i3"), (RecentClicks{"z", "b"}));
}

TEST(Joiner, ImpressionlessStreamSamplesNegativesFromTheCatalog) {
  Catalog catalog;
  for (const Item& item : testing::make_items(4)) catalog.update(item);
  JoinerSettings s;
  s.negatives_per_click = 3;
  Stream r(s, &catalog);
  r << make_event("c1", kClick, "u", "i1", 0) << make_event("p1", kBuy, "u", "i1", kMin);
  r.joiner.flush(r.out);
  ASSERT_EQ(r.out.size(), 4u);
  int positives = 0;
  for (const Sample& x : r.out) {
    if (x.clicked) {
      ++positives;
      EXPECT_EQ(x.item_id, "i1");
      EXPECT_TRUE(x.purchased);
    } else {
      EXPECT_NE(x.item_id, "i1");
    }
  }
  EXPECT_EQ(positives, 1);
  EXPECT_EQ(r.joiner.counters().sampled_negatives, 3u);
  r.out.clear();
  r << make_event("c2", kClick, "u", "i1", 20 * kMin);  // the same item again, later
  r.joiner.flush(r.out);
  EXPECT_EQ(r.out.size(), 4u) << "a repeat click is another positive";
  EXPECT_EQ(r.joiner.counters().late_clicks, 0u);
}

TEST(Joiner, SaveAndLoadContinueIdentically) {
  auto events = testing::make_stream(400, 7, 5, 3);
  Stream whole, first;
  for (const Event& e : events) whole << e;
  whole.joiner.flush(whole.out);
  for (size_t i = 0; i < events.size() / 2; ++i) first << events[i];
  ByteWriter w;
  first.joiner.save(w);
  Stream second;
  ByteReader in(w.bytes());
  ASSERT_TRUE(second.joiner.load(in)) << in.error();
  for (size_t i = events.size() / 2; i < events.size(); ++i) second << events[i];
  second.joiner.flush(second.out);
  std::vector<Sample> joined = first.out;
  joined.insert(joined.end(), second.out.begin(), second.out.end());
  ASSERT_EQ(joined.size(), whole.out.size());
  for (size_t i = 0; i < joined.size(); ++i) {
    EXPECT_EQ(joined[i].event_id, whole.out[i].event_id);
    EXPECT_EQ(joined[i].clicked, whole.out[i].clicked);
    EXPECT_EQ(joined[i].purchased, whole.out[i].purchased);
    EXPECT_EQ(joined[i].learns, whole.out[i].learns);
    EXPECT_EQ(joined[i].finalizes, whole.out[i].finalizes);
  }
}

}  // namespace
}  // namespace streamrec::learner
