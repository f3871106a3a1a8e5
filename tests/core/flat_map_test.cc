// FlatMap64 behaves like std::unordered_map under any mix of inserts and
// erases, including keys that crowd into one probe run.
#include <gtest/gtest.h>

#include <random>
#include <unordered_map>

#include "core/flat_map.h"

namespace streamrec {
namespace {

void expect_same(const FlatMap64<int>& flat, const std::unordered_map<uint64_t, int>& ref) {
  ASSERT_EQ(flat.size(), ref.size());
  for (const auto& [key, value] : ref) {
    const int* found = flat.find(key);
    ASSERT_NE(found, nullptr) << key;
    EXPECT_EQ(*found, value) << key;
  }
  size_t visited = 0;
  flat.for_each([&](uint64_t key, int value) {
    ++visited;
    auto it = ref.find(key);
    ASSERT_NE(it, ref.end()) << key;
    EXPECT_EQ(it->second, value);
  });
  EXPECT_EQ(visited, ref.size());
}

TEST(FlatMap64, MatchesUnorderedMapUnderRandomInsertsAndErases) {
  for (uint64_t key_space : {8ULL, 100ULL, 5000ULL}) {  // small spaces: long probe runs, many re-inserts
    std::mt19937_64 rng(key_space);
    FlatMap64<int> flat;
    std::unordered_map<uint64_t, int> ref;
    for (int step = 0; step < 50000; ++step) {
      // Keys spaced by a power of two share low bits; the map must not care.
      uint64_t key = (rng() % key_space) << 20;
      switch (rng() % 3) {
        case 0: {
          auto [value, fresh] = flat.try_emplace(key);
          EXPECT_EQ(fresh, !ref.count(key));
          EXPECT_EQ(*value, fresh ? 0 : ref[key]);
          *value = step;
          ref[key] = step;
          break;
        }
        case 1: EXPECT_EQ(flat.erase(key), ref.erase(key) == 1); break;
        case 2: EXPECT_EQ(flat.contains(key), ref.count(key) == 1); break;
      }
      if (step % 5000 == 0) expect_same(flat, ref);
    }
    expect_same(flat, ref);
    while (!ref.empty()) {  // shrinks back without losing anything
      EXPECT_TRUE(flat.erase(ref.begin()->first));
      ref.erase(ref.begin());
      if (ref.size() % 64 == 0) expect_same(flat, ref);
    }
    EXPECT_TRUE(flat.empty());
  }
}

TEST(FlatMap64, EveryKeyIsValidIncludingZeroAndMax) {
  FlatMap64<int> flat;
  flat[0] = 1;
  flat[UINT64_MAX] = 2;
  EXPECT_EQ(*flat.find(0), 1);
  EXPECT_EQ(*flat.find(UINT64_MAX), 2);
  EXPECT_FALSE(flat.contains(1));
  EXPECT_TRUE(flat.erase(0));
  EXPECT_FALSE(flat.contains(0));
  EXPECT_EQ(*flat.find(UINT64_MAX), 2);
}

TEST(FlatMap64, ClearForgetsEverything) {
  FlatSet64 set;
  for (uint64_t k = 0; k < 1000; ++k) EXPECT_TRUE(set.insert(k * 7919));
  EXPECT_FALSE(set.insert(7919));
  set.clear();
  EXPECT_TRUE(set.empty());
  EXPECT_FALSE(set.contains(7919));
  EXPECT_TRUE(set.insert(7919));
}

}  // namespace
}  // namespace streamrec
