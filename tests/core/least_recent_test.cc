// LeastRecentMap (core/least_recent.h): touch makes an entry the most recent,
// find does not, the least recent is what pop_least_recent hands out, and
// the saved order (oldest first) touched back in restores the recency.
#include "core/least_recent.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace streamrec {
namespace {

std::vector<std::string> oldest_first(const LeastRecentMap<std::string, int>& map) {
  std::vector<std::string> keys;
  map.for_each_oldest_first([&](const std::string& key, int) { keys.push_back(key); });
  return keys;
}

TEST(LeastRecentMap, TouchCreatesAnEntryAndMakesItTheMostRecent) {
  LeastRecentMap<std::string, int> map;
  bool created = false;
  map.touch("a", &created) = 1;
  EXPECT_TRUE(created);
  map.touch("b") = 2;
  map.touch("c") = 3;
  EXPECT_EQ(oldest_first(map), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(map.touch("a", &created), 1);
  EXPECT_FALSE(created);
  EXPECT_EQ(oldest_first(map), (std::vector<std::string>{"b", "c", "a"}));
  EXPECT_EQ(*map.least_recent(), "b");
}

TEST(LeastRecentMap, FindDoesNotChangeTheOrder) {
  LeastRecentMap<std::string, int> map;
  map.touch("a") = 1;
  map.touch("b") = 2;
  ASSERT_NE(map.find("a"), nullptr);
  EXPECT_EQ(*map.find("a"), 1);
  EXPECT_EQ(map.find("z"), nullptr);
  EXPECT_EQ(*map.least_recent(), "a");
  EXPECT_EQ(map.touch_if_present("z"), nullptr);
  EXPECT_EQ(map.size(), 2u);
  EXPECT_EQ(*map.touch_if_present("a"), 1);
  EXPECT_EQ(*map.least_recent(), "b");
}

TEST(LeastRecentMap, PopHandsOutTheLeastRecentAndKeepsTheRest) {
  LeastRecentMap<std::string, int> map;
  for (int i = 0; i < 5; ++i) map.touch("k" + std::to_string(i)) = i;
  map.touch("k0");
  auto [key, value] = map.pop_least_recent();
  EXPECT_EQ(key, "k1");
  EXPECT_EQ(value, 1);
  EXPECT_EQ(map.find("k1"), nullptr);
  EXPECT_EQ(map.size(), 4u);
  EXPECT_EQ(oldest_first(map), (std::vector<std::string>{"k2", "k3", "k4", "k0"}));
}

TEST(LeastRecentMap, EraseUnlinksFromAnyPosition) {
  LeastRecentMap<std::string, int> map;
  for (const char* k : {"a", "b", "c", "d"}) map.touch(k);
  EXPECT_TRUE(map.erase("b"));   // middle
  EXPECT_TRUE(map.erase("a"));   // oldest
  EXPECT_TRUE(map.erase("d"));   // newest
  EXPECT_FALSE(map.erase("d"));
  EXPECT_EQ(oldest_first(map), (std::vector<std::string>{"c"}));
  EXPECT_TRUE(map.erase("c"));
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(map.least_recent(), nullptr);
  map.touch("e");
  EXPECT_EQ(oldest_first(map), (std::vector<std::string>{"e"}));
}

TEST(LeastRecentMap, ABoundedMapKeepsTheMostRecentlyTouched) {
  LeastRecentMap<uint64_t, uint64_t> map;
  const size_t bound = 1000;
  for (uint64_t i = 0; i < 100000; ++i) {
    map.touch(i % 7 == 0 ? 7 : i) = i;  // 7 is touched all along
    while (map.size() > bound) map.pop_least_recent();
  }
  EXPECT_EQ(map.size(), bound);
  EXPECT_NE(map.find(7), nullptr);
  EXPECT_NE(map.find(99999), nullptr);
  EXPECT_EQ(map.find(1), nullptr);
}

TEST(LeastRecentMap, SurvivesRehashingAndMoves) {
  LeastRecentMap<std::string, int> map;
  for (int i = 0; i < 10000; ++i) map.touch(std::to_string(i)) = i;  // many rehashes
  LeastRecentMap<std::string, int> moved = std::move(map);
  EXPECT_EQ(moved.size(), 10000u);
  EXPECT_EQ(*moved.least_recent(), "0");
  moved.touch("0");
  EXPECT_EQ(*moved.least_recent(), "1");
  EXPECT_EQ(map.size(), 0u);
  EXPECT_EQ(map.least_recent(), nullptr);
}

TEST(LeastRecentMap, ACopyHasTheSameEntriesInTheSameOrderAndIsIndependent) {
  LeastRecentMap<std::string, int> map;
  for (const char* k : {"x", "y", "z"}) map.touch(k) = 1;
  map.touch("x");
  LeastRecentMap<std::string, int> copy(map);
  EXPECT_EQ(oldest_first(copy), oldest_first(map));
  copy.touch("y") = 2;
  copy.erase("z");
  EXPECT_EQ(oldest_first(map), (std::vector<std::string>{"y", "z", "x"}));
  EXPECT_EQ(*map.find("y"), 1);
  map = copy;
  EXPECT_EQ(oldest_first(map), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(*map.find("y"), 2);
}

TEST(LeastRecentMap, TouchingTheSavedOrderBackRestoresTheRecency) {
  LeastRecentMap<std::string, int> map;
  for (const char* k : {"x", "y", "z"}) map.touch(k);
  map.touch("x");
  LeastRecentMap<std::string, int> restored;
  map.for_each_oldest_first([&](const std::string& key, int value) { restored.touch(key) = value; });
  EXPECT_EQ(oldest_first(restored), oldest_first(map));
}

}  // namespace
}  // namespace streamrec
