// PopularByGroup (ranking/popular_by_group.h) returns what a sort of every
// item of the groups by live popularity returns, while popularity grows
// between refreshes, whatever is excluded.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "ranking/popular_by_group.h"

namespace streamrec::ranking {
namespace {

// The n most popular items of `groups`, not excluded, by sorting them all.
std::vector<size_t> brute_force(const std::vector<int>& group_of, const std::vector<double>& popularity,
                                const std::vector<size_t>& groups, size_t n, const std::vector<uint8_t>& excluded) {
  std::vector<size_t> items;
  for (size_t i = 0; i < group_of.size(); ++i)
    if (!excluded[i] && std::find(groups.begin(), groups.end(), static_cast<size_t>(group_of[i])) != groups.end())
      items.push_back(i);
  std::sort(items.begin(), items.end(), [&](size_t a, size_t b) {
    return popularity[a] != popularity[b] ? popularity[a] > popularity[b] : a < b;
  });
  items.resize(std::min(n, items.size()));
  return items;
}

TEST(PopularByGroup, MatchesASortOfEveryItemAsPopularityGrowsBetweenRefreshes) {
  std::mt19937 rng(5);
  constexpr size_t kItems = 3000, kGroups = 7;
  std::vector<int> group_of(kItems);
  std::vector<double> popularity(kItems);
  std::vector<const double*> pointers;
  PopularByGroup groups;
  groups.clear(kItems);
  for (size_t g = 0; g < kGroups; ++g) groups.add_group();
  for (size_t i = 0; i < kItems; ++i) {
    group_of[i] = static_cast<int>(rng() % kGroups);
    popularity[i] = static_cast<double>(rng() % 50);  // many ties: the lower number first
    pointers.push_back(&popularity[i]);
    groups.add(static_cast<size_t>(group_of[i]), i);
  }
  std::vector<uint8_t> excluded(kItems, 0);
  size_t checks = 0, whole_group_reads = 0;
  for (int round = 0; round < 40; ++round) {
    const size_t depth = 1 + rng() % 40;
    groups.refresh(pointers, depth);
    for (int step = 0; step < 25; ++step) {
      // Some items gain (as events count towards them), each noted.
      for (int k = 0; k < 30; ++k) {
        size_t i = rng() % kItems;
        popularity[i] += static_cast<double>(rng() % 20);
        groups.noted(i);
      }
      // Exclude a few items, sometimes most of a group's leaders.
      std::fill(excluded.begin(), excluded.end(), 0);
      const size_t exclude = step % 5 == 0 ? 200 : 5;
      for (size_t k = 0; k < exclude; ++k) excluded[rng() % kItems] = 1;
      std::vector<size_t> asked = {rng() % kGroups};
      if (step % 2) asked.push_back((asked[0] + 1 + rng() % (kGroups - 1)) % kGroups);
      const size_t n = 1 + rng() % 30;
      std::vector<size_t> got{999999};  // appended to, not replaced
      groups.most_popular(asked, n, excluded, got);
      got.erase(got.begin());
      ASSERT_EQ(got, brute_force(group_of, popularity, asked, n, excluded))
          << "round " << round << " step " << step << " depth " << depth << " n " << n;
      ++checks;
      whole_group_reads += exclude == 200 && depth < n + 10;
    }
  }
  EXPECT_EQ(checks, 1000u);
  EXPECT_GT(whole_group_reads, 0u) << "the fallback to the whole group was exercised";
}

TEST(PopularByGroup, AnItemThatPassedTheLeadersIsFoundOnceNoted) {
  // The rule the ranker keeps (it notes every item it counts): without the
  // note, an item that passed the leaders since the refresh is not found.
  std::vector<double> popularity = {5, 4, 3, 2, 1};
  std::vector<const double*> pointers;
  PopularByGroup groups;
  groups.clear(popularity.size());
  groups.add_group();
  for (size_t i = 0; i < popularity.size(); ++i) {
    pointers.push_back(&popularity[i]);
    groups.add(0, i);
  }
  groups.refresh(pointers, 2);
  popularity[4] = 10;
  std::vector<uint8_t> excluded(popularity.size(), 0);
  std::vector<size_t> got;
  groups.most_popular({0}, 1, excluded, got);
  EXPECT_EQ(got, std::vector<size_t>{0});
  groups.noted(4);
  got.clear();
  groups.most_popular({0}, 1, excluded, got);
  EXPECT_EQ(got, std::vector<size_t>{4});
}

}  // namespace
}  // namespace streamrec::ranking
