// ScoreTable keeps one row per event_id, exactly, with rows reused.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "online_learner/score_table.h"

namespace streamrec::learner {
namespace {

TEST(ScoreTable, BehavesLikeAMapOfRowsByEventId) {
  ScoreTable table(3);
  std::map<std::string, std::vector<float>> ref;
  std::mt19937_64 rng(5);
  for (int step = 0; step < 20000; ++step) {
    std::string id = "e" + std::to_string(rng() % 500);
    if (rng() % 3 == 0) {
      table.erase(id);
      ref.erase(id);
      continue;
    }
    float* row = table.insert(id);
    auto [it, fresh] = ref.try_emplace(id, std::vector<float>(3, 0.0f));
    for (int k = 0; k < 3; ++k) EXPECT_EQ(row[k], it->second[k]) << (fresh ? "a new row is zeros" : "kept");
    for (int k = 0; k < 3; ++k) row[k] = it->second[k] = static_cast<float>(step + k);
  }
  ASSERT_EQ(table.size(), ref.size());
  auto expected = ref.begin();
  table.for_each_sorted([&](const std::string& id, const float* row) {
    ASSERT_NE(expected, ref.end());
    EXPECT_EQ(id, expected->first) << "in event_id order";
    for (int k = 0; k < 3; ++k) EXPECT_EQ(row[k], expected->second[k]);
    ++expected;
  });
  EXPECT_EQ(expected, ref.end());
  for (const auto& [id, row] : ref) EXPECT_NE(table.find(id), nullptr);
  EXPECT_EQ(table.find("e-absent"), nullptr);
}

TEST(ScoreTable, ClearEmptiesIt) {
  ScoreTable table(2);
  table.insert("a")[0] = 1;
  table.clear();
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.find("a"), nullptr);
  EXPECT_EQ(table.insert("a")[0], 0.0f);
}

}  // namespace
}  // namespace streamrec::learner
