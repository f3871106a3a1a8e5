// The collisionless embedding table: one row per key, admission, TTL
// eviction, exact accounting, order-independent initialization.
#include <gtest/gtest.h>

#include <set>

#include "online_learner/byte_io.h"
#include "online_learner/embedding_table.h"

namespace streamrec::learner {
namespace {

TEST(EmbeddingTable, EveryKeyGetsItsOwnRowEvenWhenLowBitsCollide) {
  EmbeddingTable t(4, 1, 0, 0.1f, 1);
  std::set<uint32_t> rows;
  for (uint64_t k = 0; k < 5000; ++k) rows.insert(t.observe(k << 40, 0));  // equal low bits
  EXPECT_EQ(rows.size(), 5000u);
  EXPECT_EQ(t.rows(), 5000u);
  for (uint64_t k = 0; k < 5000; ++k) EXPECT_NE(t.find(k << 40), EmbeddingTable::kNoRow);
  EXPECT_EQ(t.find(12345), EmbeddingTable::kNoRow);
}

TEST(EmbeddingTable, AdmissionAfterNSightings) {
  EmbeddingTable t(4, 3, 0, 0.1f, 1);
  EXPECT_EQ(t.observe(7, 0), EmbeddingTable::kNoRow);
  EXPECT_EQ(t.observe(7, 1), EmbeddingTable::kNoRow);
  EXPECT_EQ(t.find(7), EmbeddingTable::kNoRow);
  uint32_t r = t.observe(7, 2);
  EXPECT_NE(r, EmbeddingTable::kNoRow);
  EXPECT_EQ(t.observe(7, 3), r);
  EXPECT_EQ(t.rows(), 1u);
}

TEST(EmbeddingTable, RowsUnseenForTheTtlAreEvictedAndReused) {
  EmbeddingTable t(4, 1, 1000, 0.1f, 1);
  for (uint64_t k = 1; k <= 100; ++k) t.observe(k, 0);
  for (uint64_t k = 1; k <= 50; ++k) t.observe(k, 900);  // half stay fresh
  EXPECT_EQ(t.evict_unseen(1500), 50u);
  EXPECT_EQ(t.rows(), 50u);
  for (uint64_t k = 1; k <= 50; ++k) EXPECT_NE(t.find(k), EmbeddingTable::kNoRow) << k;
  for (uint64_t k = 51; k <= 100; ++k) EXPECT_EQ(t.find(k), EmbeddingTable::kNoRow) << k;
  for (uint64_t k = 1000; k < 1050; ++k) t.observe(k, 1600);
  EXPECT_EQ(t.capacity_rows(), 100u) << "freed rows are reused";
  EXPECT_EQ(t.evicted_total(), 50u);
}

TEST(EmbeddingTable, EvictionKeepsProbeChainsIntact) {
  EmbeddingTable t(2, 1, 10, 0.1f, 1);
  for (uint64_t k = 0; k < 400; ++k) t.observe(k * 1024, k % 2 ? 100 : 0);
  t.evict_unseen(105);
  for (uint64_t k = 0; k < 400; ++k)
    EXPECT_EQ(t.find(k * 1024) != EmbeddingTable::kNoRow, k % 2 == 1) << k;
}

TEST(EmbeddingTable, InitializationDependsOnKeyNotOrder) {
  EmbeddingTable a(8, 1, 0, 0.1f, 9), b(8, 1, 0, 0.1f, 9);
  a.observe(1, 0);
  a.observe(2, 0);
  b.observe(2, 0);
  b.observe(1, 0);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(a.row(a.find(1))[i], b.row(b.find(1))[i]);
  float max = 0;
  for (int i = 0; i < 8; ++i) max = std::max(max, std::abs(a.row(a.find(1))[i]));
  EXPECT_LE(max, 0.1f);
  EXPECT_GT(max, 0.0f);
}

TEST(EmbeddingTable, BytesAreExactForRowsAndIndex) {
  EmbeddingTable t(16, 1, 0, 0.1f, 1);
  size_t empty = t.bytes();
  for (uint64_t k = 0; k < 1000; ++k) t.observe(k, 0);
  // 1000 rows: weights and state (2 * 16 floats), key, last-seen: 144 bytes
  // a row, plus the vectors' spare capacity and the index (4 bytes a slot).
  EXPECT_GE(t.bytes() - empty, 1000u * 144);
  EXPECT_EQ(t.bytes_per_row(), 144u + 2048 * 4 / 1000);
}

TEST(EmbeddingTable, SaveLoadRoundTrip) {
  EmbeddingTable t(4, 2, 1000, 0.1f, 1);
  for (uint64_t k = 0; k < 300; ++k) t.observe(k % 200, static_cast<int64_t>(k));
  t.row(t.find(5))[0] = 42;
  t.evict_unseen(1100);
  ByteWriter w;
  t.save(w);
  EmbeddingTable u(4, 2, 1000, 0.1f, 1);
  ByteReader in(w.bytes());
  ASSERT_TRUE(u.load(in)) << in.error();
  EXPECT_EQ(u.rows(), t.rows());
  for (uint64_t k = 0; k < 200; ++k) {
    ASSERT_EQ(u.find(k), t.find(k));
    if (t.find(k) == EmbeddingTable::kNoRow) continue;
    for (int i = 0; i < 4; ++i) EXPECT_EQ(u.row(u.find(k))[i], t.row(t.find(k))[i]);
  }
  EmbeddingTable wrong_dim(8, 2, 1000, 0.1f, 1);
  ByteReader again(w.bytes());
  EXPECT_FALSE(wrong_dim.load(again));
}

}  // namespace
}  // namespace streamrec::learner
