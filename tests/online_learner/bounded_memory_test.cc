// The learner's per-user and per-item structures stay within their bounds
// (learner.max_users, max_items, max_embedding_rows), evict the least
// recently used, keep the most recent, and what they evict is gone.
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/config.h"
#include "online_learner/baseline.h"
#include "online_learner/byte_io.h"
#include "online_learner/catalog.h"
#include "online_learner/embedding_table.h"
#include "online_learner/joiner.h"
#include "online_learner/learner.h"
#include "online_learner/recent_clicks.h"
#include "test_stream.h"

namespace streamrec::learner {
namespace {

using testing::make_event;

Item item(const std::string& id) { return Item{id, "c", 1.0, true, 0}; }

TEST(RecentClicksBookBound, BeyondMaxUsersTheLeastRecentlyActiveUserLosesTheirRecentClicks) {
  RecentClicksBook book(/*cap=*/5, /*max_users=*/2);
  book.remember(make_event("c1", EventType::kClick, "u1", "a", 1000));
  book.remember(make_event("c2", EventType::kClick, "u2", "b", 1001));
  EXPECT_EQ(book.of("u1"), RecentClicks{"a"});                          // u1 active again
  book.remember(make_event("c3", EventType::kClick, "u3", "c", 1003));  // evicts u2, not u1
  EXPECT_EQ(book.users(), 2u);
  EXPECT_EQ(book.evicted_users(), 1u);
  EXPECT_TRUE(book.of("u2").empty());              // u2's bag is gone
  EXPECT_EQ(book.of("u1"), RecentClicks{"a"});     // the most recent stay
  EXPECT_EQ(book.of("u3"), RecentClicks{"c"});
}

TEST(RecentClicksBookBound, EraseForgetsTheirRecentClicks) {
  RecentClicksBook book(5, 100);
  book.remember(make_event("c1", EventType::kClick, "u1", "a", 1000));
  EXPECT_TRUE(book.erase("u1"));
  EXPECT_FALSE(book.erase("u1"));
  EXPECT_TRUE(book.of("u1").empty());
}

TEST(RecentClicksBookBound, ACheckpointKeepsTheRecencySoTheSameUserIsEvictedNext) {
  RecentClicksBook book(5, 3);
  for (const char* u : {"b", "a", "c"}) book.remember(make_event(std::string("c") + u, EventType::kClick, u, "x", 1000));
  ByteWriter w;
  book.save(w);
  std::string bytes = w.take();
  RecentClicksBook restored(5, 3);
  ByteReader r(bytes);
  restored.load(r);
  ASSERT_TRUE(r.ok());
  restored.remember(make_event("cd", EventType::kClick, "d", "x", 1001));  // evicts "b", the least recent (not "a")
  EXPECT_TRUE(restored.of("b").empty());
  EXPECT_EQ(restored.of("a"), RecentClicks{"x"});
}

TEST(JoinerBound, EmittedImpressionsAreRememberedAtMostMaxPending) {
  Catalog catalog;
  JoinerSettings settings;
  settings.max_pending = 1;
  Joiner joiner(settings, &catalog);
  std::vector<Sample> out;
  joiner.add(make_event("ia", EventType::kImpression, "u", "a", 1000), {}, out);
  joiner.add(make_event("ib", EventType::kImpression, "u", "b", 1001), {}, out);  // a emitted early
  joiner.add(make_event("ic", EventType::kImpression, "u", "c", 1002), {}, out);  // b emitted early; a forgotten
  joiner.add(make_event("ca", EventType::kClick, "u", "a", 1003), {}, out);
  joiner.add(make_event("cb", EventType::kClick, "u", "b", 1004), {}, out);
  EXPECT_EQ(joiner.counters().flushed_pending, 2u);
  EXPECT_EQ(joiner.counters().orphan_clicks, 1u);  // a's: no longer remembered
  EXPECT_EQ(joiner.counters().late_clicks, 1u);    // b's: the most recent emitted one is
}

TEST(CatalogBound, ANewItemBeyondMaxItemsReplacesTheLeastRecentlyUpdated) {
  Catalog catalog(2);
  catalog.update(item("a"));
  catalog.update(item("b"));
  catalog.update(item("a"));  // a updated again: b is now the least recent
  catalog.update(item("c"));
  EXPECT_EQ(catalog.size(), 2u);
  EXPECT_EQ(catalog.evicted_items(), 1u);
  EXPECT_EQ(catalog.find("b"), nullptr);
  ASSERT_NE(catalog.find("a"), nullptr);
  ASSERT_NE(catalog.find("c"), nullptr);
  std::vector<std::string> available;
  catalog.for_each_available([&](const Item& i) { available.push_back(i.item_id); });
  std::sort(available.begin(), available.end());
  EXPECT_EQ(available, (std::vector<std::string>{"a", "c"}));
  // Never sampled again, and its popularity count does not pass to c.
  catalog.observe("b");
  SplitMix rng(7);
  float correction = 0;
  for (int n = 0; n < 200; ++n) {
    const Item* drawn = catalog.sample_popular(rng, "", &correction);
    ASSERT_NE(drawn, nullptr);
    EXPECT_NE(drawn->item_id, "b");
    EXPECT_NE(catalog.sample_available(rng, "")->item_id, "b");
  }
  EXPECT_EQ(catalog.sampler().available(), 2u);
}

TEST(CatalogBound, TheSlotOfAnEvictedItemStartsWithNoClicks) {
  Catalog catalog(1);
  catalog.update(item("a"));
  for (int n = 0; n < 10; ++n) catalog.observe("a");
  catalog.update(item("b"));  // takes a's slot
  EXPECT_EQ(catalog.find("a"), nullptr);
  EXPECT_EQ(catalog.sampler().count(0), 0);
}

TEST(CatalogBound, ACheckpointSavedUnderALargerBoundLoadsWithinTheSmaller) {
  Catalog big(10);
  for (const char* id : {"a", "b", "c", "d"}) big.update(item(id));
  ByteWriter w;
  big.save(w);
  std::string bytes = w.take();
  Catalog small(2);
  ByteReader r(bytes);
  ASSERT_TRUE(small.load(r));
  EXPECT_EQ(small.size(), 2u);
  EXPECT_EQ(small.find("a"), nullptr);
  EXPECT_NE(small.find("d"), nullptr);
  for (int n = 0; n < 3; ++n) small.observe("d");
  small.update(item("e"));  // evicts c, the least recent kept
  EXPECT_EQ(small.size(), 2u);
  EXPECT_EQ(small.find("c"), nullptr);
  EXPECT_NE(small.find("e"), nullptr);
  // Saved again, nothing evicted comes back; d's count is kept.
  ByteWriter again;
  small.save(again);
  const std::string bytes2 = again.take();
  Catalog reloaded(2);
  ByteReader r2(bytes2);
  ASSERT_TRUE(reloaded.load(r2));
  EXPECT_EQ(reloaded.size(), 2u);
  EXPECT_NE(reloaded.find("d"), nullptr);
  EXPECT_NE(reloaded.find("e"), nullptr);
  for (const char* gone : {"a", "b", "c"}) EXPECT_EQ(reloaded.find(gone), nullptr) << gone;
  std::vector<std::string> available;
  reloaded.for_each_available([&](const Item& i) { available.push_back(i.item_id); });
  EXPECT_EQ(available.size(), 2u);
  EXPECT_GT(reloaded.log_correction("d"), reloaded.log_correction("e"));  // d's clicks survived
}

TEST(BaselineBound, BeyondMaxItemsTheLeastRecentlyCountedItemScoresThePriorAgain) {
  ItemRateBaseline baseline(20, 2);
  for (int n = 0; n < 50; ++n) baseline.update_click("hot", true);
  const float prior_like = baseline.score("never").click;
  baseline.update_click("x", false);
  baseline.update_click("hot", true);  // hot is the most recent
  baseline.update_click("y", false);   // evicts x
  EXPECT_EQ(baseline.items(), 2u);
  EXPECT_EQ(baseline.evicted_items(), 1u);
  EXPECT_GT(baseline.score("hot").click, prior_like);
  baseline.update_click("z", false);  // evicts hot: its counts are gone
  EXPECT_NEAR(baseline.score("hot").click, baseline.score("never").click, 1e-6);
}

TEST(EmbeddingBound, BeyondMaxRowsTheLeastRecentlySeenRowsAreFreed) {
  EmbeddingTable table(4, 1, 0, 0.05f, 1, -1, /*max_rows=*/32);
  for (uint64_t key = 0; key < 32; ++key) table.observe(key, static_cast<int64_t>(key));
  table.observe(0, 100);  // key 0 seen most recently
  EXPECT_EQ(table.evict_over_bound(), 0u);
  for (uint64_t key = 100; key < 104; ++key) table.observe(key, 200);  // 36 rows
  const size_t freed = table.evict_over_bound();
  EXPECT_EQ(table.rows(), 32u - 32u / 16);  // down to 15/16 of the bound
  EXPECT_EQ(freed, 6u);
  EXPECT_NE(table.find(0), EmbeddingTable::kNoRow);
  for (uint64_t key = 100; key < 104; ++key) EXPECT_NE(table.find(key), EmbeddingTable::kNoRow);
  for (uint64_t key = 1; key <= 6; ++key) EXPECT_EQ(table.find(key), EmbeddingTable::kNoRow) << key;
  for (uint64_t key = 7; key < 32; ++key) EXPECT_NE(table.find(key), EmbeddingTable::kNoRow) << key;
  EXPECT_EQ(table.evicted_total(), 6u);
  const size_t capacity = table.capacity_rows();
  for (uint64_t key = 200; key < 1000; ++key) {
    table.observe(key, static_cast<int64_t>(key));
    table.evict_over_bound();
  }
  EXPECT_LE(table.rows(), 32u);
  EXPECT_LE(table.capacity_rows(), std::max<size_t>(capacity, 33));  // freed rows are reused
}

TEST(EmbeddingBound, KeysAwaitingAdmissionAreBoundedToo) {
  EmbeddingTable table(4, /*admit_after=*/3, 0, 0.05f, 1, -1, /*max_rows=*/16);
  for (uint64_t key = 0; key < 1000; ++key) {
    table.observe(key, static_cast<int64_t>(key));  // one sighting each: none admitted
    table.evict_over_bound();
  }
  EXPECT_EQ(table.rows(), 0u);
  EXPECT_LE(table.bytes(), EmbeddingTable(4, 3, 0, 0.05f, 1).bytes() + 17 * 32);
}

TEST(LearnerBound, TheBoundsAreNotPartOfTheModelSoACheckpointLoadsUnderOtherBounds) {
  LearnerConfig config;
  config.max_users = 1000;
  auto learner = Learner::create(config);
  ASSERT_TRUE(learner.ok());
  for (const Item& i : testing::make_items(20)) (*learner)->add_item(i);
  for (const Event& e : testing::make_stream(500, 50, 20, 3)) (*learner)->add_event(e);
  const std::string bytes = (*learner)->checkpoint_bytes(7);
  config.max_users = 10;
  config.max_items = 5;
  config.max_embedding_rows = 100;
  auto other = Learner::create(config);
  ASSERT_TRUE(other.ok());
  auto position = (*other)->restore_checkpoint_bytes(bytes, "test");
  ASSERT_TRUE(position.ok()) << position.error().message;
  EXPECT_EQ(*position, 7u);
  EXPECT_LE((*other)->catalog().size(), 5u);
  EXPECT_LE((*other)->recent_clicks().users(), 10u);
  EXPECT_LE((*other)->baseline().items(), 5u);
}

// A catalog cut by its bound says so: the first eviction names the bound,
// and the next warnings come as the evictions double (1, 2, 4, 8), not per
// item.
TEST(CatalogBound, EvictingItemsIsWarnedAboutNamingTheBound) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  spdlog::default_logger()->sinks().push_back(sink);
  LearnerConfig config;
  config.max_items = 3;
  auto learner = Learner::create(config);
  ASSERT_TRUE(learner.ok());
  for (int i = 0; i < 11; ++i) (*learner)->add_item(item("i" + std::to_string(i)));  // 8 evicted
  spdlog::default_logger()->sinks().pop_back();
  EXPECT_EQ((*learner)->catalog().evicted_items(), 8u);
  std::vector<std::string> warnings;
  for (const std::string& line : sink->last_formatted())
    if (line.find("catalog is full") != std::string::npos) warnings.push_back(line);
  ASSERT_EQ(warnings.size(), 4u);
  EXPECT_NE(warnings[0].find("learner.max_items = 3"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("evicted so far: 1,"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[3].find("evicted so far: 8,"), std::string::npos) << warnings[3];
}

}  // namespace
}  // namespace streamrec::learner
