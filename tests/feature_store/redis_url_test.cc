#include <gtest/gtest.h>

#include "feature_store/redis_url.h"

namespace streamrec {
namespace {

TEST(RedisUrl, ParsesEveryPart) {
  auto ep = parse_redis_url("redis://alice:s3cret@cache.internal:6380/3");
  ASSERT_TRUE(ep.ok()) << ep.error().message;
  EXPECT_EQ(ep->user, "alice");
  EXPECT_EQ(ep->password, "s3cret");
  EXPECT_EQ(ep->host, "cache.internal");
  EXPECT_EQ(ep->port, 6380);
  EXPECT_EQ(ep->db, 3);
}

TEST(RedisUrl, DefaultsPortAndDbAndAcceptsPasswordOnly) {
  auto ep = parse_redis_url("redis://pw@localhost");
  ASSERT_TRUE(ep.ok()) << ep.error().message;
  EXPECT_EQ(ep->user, "");
  EXPECT_EQ(ep->password, "pw");
  EXPECT_EQ(ep->port, 6379);
  EXPECT_EQ(ep->db, 0);
}

TEST(RedisUrl, RejectsMalformedUrlsNamingTheSetting) {
  for (const char* bad : {"http://h:1/0", "redis://:6379/0", "redis://h:port/0", "redis://h:70000/0",
                          "redis://h:1/db"}) {
    auto ep = parse_redis_url(bad);
    ASSERT_FALSE(ep.ok()) << bad;
    EXPECT_NE(ep.error().message.find("redis.url"), std::string::npos) << ep.error().message;
  }
}

}  // namespace
}  // namespace streamrec
