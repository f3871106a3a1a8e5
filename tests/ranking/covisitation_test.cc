// The learner's co-visitation memory stays within its bounds
// (rankings.covisit_max_neighbours, covisit_max_items), by the documented
// eviction rules, and carries them across save()/load().
#include <gtest/gtest.h>

#include <list>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "ranking/covisitation.h"
#include "ranking/user_history.h"
#include "tests/online_learner/test_stream.h"

namespace streamrec::ranking {
namespace {

using learner::testing::make_event;

// Feeds clicks to `covisits` as the Ranker does: the user's history before
// each click, then the click into it.
struct Feeder {
  explicit Feeder(CoVisitation& c) : covisits(c) {}
  void click(const std::string& user, const std::string& item, int64_t ts) {
    Event e = make_event("e" + std::to_string(n++), EventType::kClick, user, item, ts);
    covisits.observe(e, histories.find(user));
    histories.observe(e);
  }
  CoVisitation& covisits;
  UserHistories histories{5, 0};
  int n = 0;
};

std::vector<std::tuple<std::string, std::string, int64_t>> random_clicks(int n, int users, int items) {
  std::mt19937 rng(7);
  std::vector<std::tuple<std::string, std::string, int64_t>> out;
  for (int k = 0; k < n; ++k)
    out.emplace_back("u" + std::to_string(rng() % users), "i" + std::to_string(rng() % items), 1'000'000 + k * 1000);
  return out;
}

TEST(CoVisitationBounds, NeitherNeighboursPerItemNorItemsExceedTheirBound) {
  CoVisitation covisits(5, 3'600'000, CoVisitLimits{8, 40});
  Feeder feed(covisits);
  const int kItems = 400;
  for (auto& [user, item, ts] : random_clicks(20000, 60, kItems)) {
    feed.click(user, item, ts);
    ASSERT_LE(covisits.items(), 40u);
  }
  size_t rows = 0, cells = 0;
  for (int i = 0; i < kItems; ++i)
    if (const CoVisitation::Row* row = covisits.row("i" + std::to_string(i))) {
      ++rows;
      cells += row->size();
      EXPECT_LE(row->size(), 8u) << "i" << i;
    }
  EXPECT_EQ(rows, covisits.items());
  EXPECT_EQ(cells, covisits.cells());
  EXPECT_EQ(covisits.items(), 40u) << "the stream is large enough to fill the bound";
  EXPECT_GT(covisits.evicted_items(), 0u);
  EXPECT_GT(covisits.evicted_neighbours(), 0u);
}

TEST(CoVisitationBounds, AFullItemDropsItsFewestCoVisitsAndTheLeastRecentItemGoes) {
  CoVisitation covisits(1, 3'600'000, CoVisitLimits{2, 3});
  Feeder feed(covisits);
  int64_t ts = 1'000'000;
  // u1: a b a b -> a~b 3 times. u2: a c -> a's row {b:3, c:1}.
  for (const char* item : {"a", "b", "a", "b"}) feed.click("u1", item, ts += 1000);
  feed.click("u2", "a", ts += 1000);
  feed.click("u2", "c", ts += 1000);
  EXPECT_EQ(covisits.count("a", "b"), 3u);
  EXPECT_EQ(covisits.count("a", "c"), 1u);
  // u3: a d -> a is full: c (1 co-visit) goes, not b (3).
  feed.click("u3", "a", ts += 1000);
  feed.click("u3", "d", ts += 1000);
  EXPECT_EQ(covisits.count("a", "b"), 3u);
  EXPECT_EQ(covisits.count("a", "c"), 0u);
  EXPECT_EQ(covisits.count("a", "d"), 1u);
  // Items: a, b, c, d would be four; b changed least recently and went.
  EXPECT_EQ(covisits.items(), 3u);
  EXPECT_EQ(covisits.row("b"), nullptr);
  EXPECT_NE(covisits.row("c"), nullptr);
  EXPECT_NE(covisits.row("d"), nullptr);
  EXPECT_EQ(covisits.evicted_items(), 1u);
  EXPECT_EQ(covisits.evicted_neighbours(), 1u);
}

TEST(CoVisitationBounds, ARestoredCopyEvictsAsTheOriginalWould) {
  const CoVisitLimits limits{6, 25};
  const auto clicks = random_clicks(8000, 40, 200);
  CoVisitation whole(5, 3'600'000, limits), first(5, 3'600'000, limits);
  Feeder whole_feed(whole), first_feed(first);
  for (size_t k = 0; k < clicks.size(); ++k) {
    auto& [user, item, ts] = clicks[k];
    whole_feed.click(user, item, ts);
    if (k < clicks.size() / 2) first_feed.click(user, item, ts);
  }
  learner::ByteWriter out;
  first.save(out);
  CoVisitation restored(5, 3'600'000, limits);
  learner::ByteReader in(out.bytes());
  ASSERT_TRUE(restored.load(in));
  Feeder restored_feed(restored);
  restored_feed.histories = first_feed.histories;
  for (size_t k = clicks.size() / 2; k < clicks.size(); ++k) {
    auto& [user, item, ts] = clicks[k];
    restored_feed.click(user, item, ts);
  }
  learner::ByteWriter a, b;
  whole.save(a);
  restored.save(b);
  EXPECT_EQ(a.bytes(), b.bytes());
  EXPECT_EQ(restored.items(), 25u);
}

// The documented rules, written the plain way (strings, ordered maps, a
// list for recency): what CoVisitation must agree with, cell for cell.
struct PlainCoVisits {
  CoVisitLimits limits;
  std::map<std::string, std::map<std::string, uint32_t>> rows;
  std::list<std::string> recency;  // most recent first

  std::map<std::string, uint32_t>& touch(const std::string& item) {
    recency.remove(item);
    if (!rows.count(item) && rows.size() >= limits.max_items) {
      rows.erase(recency.back());
      recency.pop_back();
    }
    recency.push_front(item);
    return rows[item];
  }
  void add(std::map<std::string, uint32_t>& row, const std::string& neighbour) {
    if (auto it = row.find(neighbour); it != row.end()) {
      ++it->second;
      return;
    }
    if (row.size() >= limits.max_neighbours) {
      auto victim = row.begin();  // the fewest; of those the greatest id
      for (auto it = row.begin(); it != row.end(); ++it)
        if (it->second <= victim->second) victim = it;
      row.erase(victim);
    }
    row[neighbour] = 1;
  }
  void observe(const CoVisitPairs& pairs) {
    for (const auto& [earlier, item] : pairs) {
      add(touch(earlier), item);
      add(touch(item), earlier);
    }
  }
};

// Items evicted give up their numbers to new ones: no count may then be
// credited to the wrong item, and a reused number gets a new stamp.
TEST(CoVisitationBounds, NumbersFreedByEvictionNameNewItemsWithoutMixingThemUp) {
  const CoVisitLimits limits{3, 12};
  CoVisitation covisits(5, 3'600'000, limits);
  PlainCoVisits plain{limits, {}, {}};
  Feeder feed(covisits);
  std::map<CoVisitation::Key, std::pair<std::string, uint64_t>> named;  // number -> item, stamp, as last seen
  size_t reused = 0;
  const int kItems = 300;
  for (auto& [user, item, ts] : random_clicks(6000, 30, kItems)) {
    feed.click(user, item, ts);
    plain.observe(covisits.last_pairs());
    ASSERT_EQ(covisits.items(), plain.rows.size());
    for (int i = 0; i < kItems; ++i) {
      const std::string id = "i" + std::to_string(i);
      const CoVisitation::Row* row = covisits.row(id);
      auto expected = plain.rows.find(id);
      ASSERT_EQ(row != nullptr, expected != plain.rows.end()) << id;
      if (!row) continue;
      std::map<std::string, uint32_t> cells;
      for (const CoVisitation::Cell& cell : *row) cells[covisits.item(cell.neighbour)] = cell.count;
      ASSERT_EQ(cells, expected->second) << id;
      const CoVisitation::Key key = covisits.key(id);
      auto [seen, fresh] = named.try_emplace(key, id, covisits.stamp(key));
      if (!fresh && seen->second.first != id) {
        EXPECT_NE(seen->second.second, covisits.stamp(key)) << "number " << key << " named " << seen->second.first
                                                             << " and now " << id << " with the same stamp";
        seen->second = {id, covisits.stamp(key)};
        ++reused;
      }
    }
  }
  EXPECT_GT(reused, 0u) << "the stream is long enough for numbers to be reused";
  size_t known = 0;  // items with a number: those with rows or listed in one, nothing else
  std::set<std::string> listed;
  for (auto& [item, row] : plain.rows) {
    listed.insert(item);
    for (auto& [other, n] : row) listed.insert(other);
  }
  for (int i = 0; i < kItems; ++i) known += covisits.key("i" + std::to_string(i)) != CoVisitation::kNoKey;
  EXPECT_EQ(known, listed.size());
}

TEST(CoVisitationBounds, ACheckpointOfLargerBoundsIsCutDownOnLoad) {
  CoVisitation big(5, 3'600'000, CoVisitLimits{50, 1000});
  Feeder feed(big);
  for (auto& [user, item, ts] : random_clicks(5000, 30, 100)) feed.click(user, item, ts);
  ASSERT_GT(big.items(), 20u);
  learner::ByteWriter out;
  big.save(out);
  CoVisitation small(5, 3'600'000, CoVisitLimits{3, 20});
  learner::ByteReader in(out.bytes());
  ASSERT_TRUE(small.load(in));
  EXPECT_EQ(small.items(), 20u);
  EXPECT_LE(small.cells(), 60u);
  for (int i = 0; i < 100; ++i) {
    if (const CoVisitation::Row* row = small.row("i" + std::to_string(i))) {
      EXPECT_LE(row->size(), 3u);
    }
  }
}

}  // namespace
}  // namespace streamrec::ranking
