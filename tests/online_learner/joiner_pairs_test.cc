// The joiner when one user sees the same item again and again: every
// impression of the pair stays findable however the others leave (deadline,
// flush, click), and a checkpoint taken anywhere continues identically.
#include <gtest/gtest.h>

#include "online_learner/byte_io.h"
#include "online_learner/joiner.h"
#include "tests/online_learner/test_stream.h"

namespace streamrec::learner {
namespace {

using testing::make_event;
constexpr int64_t kMin = 60'000;
constexpr EventType kImp = EventType::kImpression, kClick = EventType::kClick, kBuy = EventType::kPurchase;

const Sample* find(const std::vector<Sample>& out, const std::string& id) {
  for (const Sample& s : out)
    if (s.event_id == id) return &s;
  return nullptr;
}

TEST(JoinerPairs, ClicksFindTheLatestImpressionAfterOlderOnesOfThePairLeft) {
  JoinerSettings settings;
  settings.early_clicks = false;
  settings.purchase_window_ms = 30 * kMin;
  Joiner joiner(settings, nullptr);
  std::vector<Sample> out;
  // Four impressions of (u, a), a minute apart; a fifth of another pair.
  for (int i = 0; i < 4; ++i) joiner.add(make_event("a" + std::to_string(i), kImp, "u", "a", i * kMin), {}, out);
  joiner.add(make_event("b0", kImp, "u", "b", 0), {}, out);
  // The oldest two expire (the tail of the pair's list), the newer two wait.
  joiner.add(make_event("x", kImp, "w", "z", 11 * kMin + 1), {}, out);
  ASSERT_NE(find(out, "a0"), nullptr);
  ASSERT_NE(find(out, "a1"), nullptr);
  ASSERT_NE(find(out, "b0"), nullptr);
  EXPECT_EQ(find(out, "a2"), nullptr);
  // A click joins the newest (a3), the next one the remaining a2.
  joiner.add(make_event("c1", kClick, "u", "a", 11 * kMin + 2), {}, out);
  joiner.add(make_event("c2", kClick, "u", "a", 11 * kMin + 3), {}, out);
  joiner.add(make_event("c3", kClick, "u", "a", 11 * kMin + 4), {}, out);
  EXPECT_EQ(joiner.counters().joined_clicks, 2u);
  EXPECT_EQ(joiner.counters().late_clicks, 1u) << "a0 and a1 were emitted: the third click is late";
  joiner.add(make_event("p1", kBuy, "u", "a", 12 * kMin), {}, out);
  EXPECT_EQ(joiner.counters().joined_purchases, 1u);
  joiner.flush(out);
  ASSERT_NE(find(out, "a2"), nullptr);
  ASSERT_NE(find(out, "a3"), nullptr);
  EXPECT_TRUE(find(out, "a2")->clicked);
  EXPECT_TRUE(find(out, "a3")->clicked);
  EXPECT_TRUE(find(out, "a3")->purchased) << "the purchase joins the latest click";
  EXPECT_FALSE(find(out, "a2")->purchased);
  EXPECT_EQ(joiner.pending(), 0u);
}

TEST(JoinerPairs, FlushingTheMiddleImpressionOfAPairKeepsTheOthersJoinable) {
  JoinerSettings settings;
  settings.max_pending = 3;
  settings.early_clicks = false;
  Joiner joiner(settings, nullptr);
  std::vector<Sample> out;
  joiner.add(make_event("v0", kImp, "v", "a", 0), {}, out);  // another pair: flushed first
  joiner.add(make_event("a0", kImp, "u", "a", 1), {}, out);
  joiner.add(make_event("a1", kImp, "u", "a", 2), {}, out);
  joiner.add(make_event("a2", kImp, "u", "a", 3), {}, out);  // flushes v0
  joiner.add(make_event("a3", kImp, "u", "a", 4), {}, out);  // flushes a0, the oldest of the pair
  EXPECT_EQ(joiner.counters().flushed_pending, 2u);
  joiner.add(make_event("c1", kClick, "u", "a", 5), {}, out);
  joiner.add(make_event("c2", kClick, "u", "a", 6), {}, out);
  joiner.add(make_event("c3", kClick, "u", "a", 7), {}, out);
  joiner.add(make_event("c4", kClick, "u", "a", 8), {}, out);
  EXPECT_EQ(joiner.counters().joined_clicks, 3u) << "a3, a2, a1";
  joiner.flush(out);
  for (const char* id : {"a1", "a2", "a3"}) EXPECT_TRUE(find(out, id)->clicked) << id;
  EXPECT_FALSE(find(out, "a0")->clicked);
}

// Few users and items, impressions repeating the same pairs, clicks and
// purchases without request ids, a small pending bound: every index path.
std::vector<Event> dense_stream(uint64_t seed) {
  SplitMix rng(seed);
  std::vector<Event> events;
  int64_t ts = 0;
  for (int n = 0; n < 3000; ++n) {
    ts += static_cast<int64_t>(rng.below(2000));
    std::string user = "u" + std::to_string(rng.below(3)), item = "i" + std::to_string(rng.below(3));
    uint64_t r = rng.below(10);
    EventType type = r < 7 ? kImp : r < 9 ? kClick : kBuy;
    events.push_back(make_event("e" + std::to_string(n), type, user, item, ts));
  }
  return events;
}

TEST(JoinerPairs, ACheckpointAnywhereContinuesIdentically) {
  JoinerSettings settings;
  settings.click_window_ms = 2 * kMin;
  settings.purchase_window_ms = 5 * kMin;
  settings.max_pending = 40;
  const std::vector<Event> events = dense_stream(7);

  Joiner whole(settings, nullptr);
  std::vector<Sample> expected;
  for (const Event& e : events) whole.add(e, {}, expected);
  whole.flush(expected);
  ASSERT_GT(whole.counters().joined_clicks, 100u);
  ASSERT_GT(whole.counters().flushed_pending, 100u);

  for (size_t cut : {size_t{1}, size_t{777}, size_t{1500}, size_t{2999}}) {
    Joiner first(settings, nullptr);
    std::vector<Sample> out;
    for (size_t i = 0; i < cut; ++i) first.add(events[i], {}, out);
    ByteWriter w;
    first.save(w);
    std::string bytes = w.take();
    ByteReader r(bytes);
    Joiner second(settings, nullptr);
    ASSERT_TRUE(second.load(r)) << r.error();
    for (size_t i = cut; i < events.size(); ++i) second.add(events[i], {}, out);
    second.flush(out);
    ASSERT_EQ(out.size(), expected.size()) << "cut at " << cut;
    for (size_t i = 0; i < out.size(); ++i) {
      EXPECT_EQ(out[i].event_id, expected[i].event_id) << "cut at " << cut << ", sample " << i;
      EXPECT_EQ(out[i].clicked, expected[i].clicked) << out[i].event_id;
      EXPECT_EQ(out[i].purchased, expected[i].purchased) << out[i].event_id;
      EXPECT_EQ(out[i].learns, expected[i].learns) << out[i].event_id;
      EXPECT_EQ(out[i].finalizes, expected[i].finalizes) << out[i].event_id;
    }
    EXPECT_EQ(second.counters().joined_clicks, whole.counters().joined_clicks);
    EXPECT_EQ(second.counters().joined_purchases, whole.counters().joined_purchases);
  }
}

}  // namespace
}  // namespace streamrec::learner
