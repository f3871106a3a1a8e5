// The consumer's duplicate-id window (consumers/recent_ids.h).
#include <gtest/gtest.h>

#include <string>

#include "consumers/recent_ids.h"

namespace streamrec {
namespace {

TEST(RecentIds, AnIdSeenWithinTheWindowIsADuplicate) {
  RecentIds ids(3);
  EXPECT_FALSE(ids.seen_before("a"));
  EXPECT_FALSE(ids.seen_before("b"));
  EXPECT_TRUE(ids.seen_before("a"));
  EXPECT_TRUE(ids.seen_before("b"));
}

TEST(RecentIds, TheOldestIdLeavesWhenTheWindowIsFull) {
  RecentIds ids(3);
  for (const char* id : {"a", "b", "c", "d"}) EXPECT_FALSE(ids.seen_before(id));
  EXPECT_FALSE(ids.seen_before("a")) << "a was pushed out by d";
  EXPECT_TRUE(ids.seen_before("c"));
  EXPECT_TRUE(ids.seen_before("d"));
  EXPECT_FALSE(ids.seen_before("b")) << "b was pushed out by a";
}

TEST(RecentIds, ADuplicateDoesNotRenewItsPlace) {
  RecentIds ids(2);
  EXPECT_FALSE(ids.seen_before("a"));
  EXPECT_FALSE(ids.seen_before("b"));
  EXPECT_TRUE(ids.seen_before("a"));
  EXPECT_FALSE(ids.seen_before("c"));  // pushes out a, the oldest remembered
  EXPECT_FALSE(ids.seen_before("a"));
}

TEST(RecentIds, KeepsExactlyTheLastCapacityIdsOverALongStream) {
  constexpr int kWindow = 1000;
  RecentIds ids(kWindow);
  for (int i = 0; i < 20000; ++i) {
    ASSERT_FALSE(ids.seen_before("e" + std::to_string(i))) << i;
    if (i >= 10) {  // the id 10 back is still there, so seeing it again is a duplicate
      ASSERT_TRUE(ids.seen_before("e" + std::to_string(i - 10))) << i;
    }
  }
  // The last kWindow new ids are remembered; the one before them is not.
  EXPECT_TRUE(ids.seen_before("e" + std::to_string(20000 - kWindow)));
  EXPECT_FALSE(ids.seen_before("e" + std::to_string(20000 - kWindow - 1)));
}

TEST(RecentIds, CapacityZeroRemembersNothing) {
  RecentIds ids(0);
  EXPECT_FALSE(ids.seen_before("a"));
  EXPECT_FALSE(ids.seen_before("a"));
}

}  // namespace
}  // namespace streamrec
