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

TEST(RedisUrl, PercentDecodesTheUserAndThePassword) {
  auto ep = parse_redis_url("redis://al%69ce:p%40ss%3Aw%2Frd%25@cache:6380/1");
  ASSERT_TRUE(ep.ok()) << ep.error().message;
  EXPECT_EQ(ep->user, "alice");
  EXPECT_EQ(ep->password, "p@ss:w/rd%");
  EXPECT_EQ(ep->host, "cache");
  EXPECT_EQ(ep->port, 6380);
  EXPECT_EQ(ep->db, 1);
}

TEST(RedisUrl, ErrorsNeverRepeatThePassword) {
  for (const char* bad : {"redis://u:s3cret%zz@h:1/0", "redis://u:s3cret%4@h:1/0", "redis://u:s3cret@h:port/0",
                          "redis://s3cret@:1/0",
                          // A mistyped scheme (found by tests/fuzz/redis_url_fuzz): the
                          // whole URL is echoed, so the login must still be hidden.
                          "redis:/u:s3cret@h:1/0", "u:s3cret@h:1/0"}) {
    auto ep = parse_redis_url(bad);
    ASSERT_FALSE(ep.ok()) << bad;
    EXPECT_NE(ep.error().message.find("redis.url"), std::string::npos) << ep.error().message;
    EXPECT_EQ(ep.error().message.find("s3cret"), std::string::npos) << ep.error().message;
  }
  auto ep = parse_redis_url("redis://u:s3cret%zz@h:1/0");
  ASSERT_FALSE(ep.ok());
  EXPECT_NE(ep.error().message.find("percent-encoding in the password"), std::string::npos) << ep.error().message;
}

}  // namespace
}  // namespace streamrec
