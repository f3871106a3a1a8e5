// `streamrec learn` with small memory bounds and a Redis user-key TTL: the
// counters in Redis stay exact while users, items and embedding rows are
// evicted (the stats say how many), every user key Redis holds expires
// within redis.user_ttl_s, and no other key does.
#include <fstream>
#include <sstream>
#include <regex>

#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

// {entries, evicted} of one structure in the stats file's "memory" object.
std::pair<int64_t, int64_t> memory_of(const std::string& stats_path, const std::string& structure) {
  std::ifstream in(stats_path);
  std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::smatch m;
  if (!std::regex_search(json, m, std::regex("\"" + structure + "\":\\{\"entries\":([0-9]+),\"bound\":[0-9]+,\"evicted\":([0-9]+)")))
    return {-1, -1};
  return {std::stoll(m[1]), std::stoll(m[2])};
}

TEST_F(PipelineTest, SmallBoundsEvictWhileCountersStayExactAndUserKeysExpire) {
  auto learner = start_learner({"--set", "learner.max_users=100", "--set", "learner.max_items=50", "--set",
                                "learner.max_embedding_rows=500", "--set", "redis.user_ttl_s=3600"});
  std::vector<std::string> keys, items;
  for (int i = 0; i < 200; ++i) {
    keys.push_back("i" + std::to_string(i));
    items.push_back(R"({"item_id":"i)" + std::to_string(i) + R"(","category":"c)" + std::to_string(i % 7) +
                    R"(","price":5,"ts":1767225600000})");
  }
  produce_with_kcat(keys, items, "items");
  produce_events(make_events(20000, 1000, 400));
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(120)))
      << "Redis holds " << events_in_redis() << " of " << expected_.events << " events";
  expect_exact_counters();
  ASSERT_EQ(learner->stop(), 0);

  auto [users, users_evicted] = memory_of(stats_file(), "realtime_users");
  EXPECT_LE(users, 100);
  EXPECT_GE(users_evicted, 900);  // 1000 users, at most 100 kept
  auto [histories, histories_evicted] = memory_of(stats_file(), "user_histories");
  EXPECT_GE(histories, 0);
  EXPECT_LE(histories, 100);
  auto [catalog, catalog_evicted] = memory_of(stats_file(), "catalog_items");
  EXPECT_EQ(catalog, 50);
  EXPECT_EQ(catalog_evicted, 150);
  auto [rows, rows_evicted] = memory_of(stats_file(), "embedding_rows");
  EXPECT_GE(rows, 0);
  EXPECT_LE(rows, 500 + 256 * 8);  // the bound, plus at most one mini-batch's new rows
  EXPECT_GT(rows_evicted, 0);

  // Every user key expires within the TTL; item keys, sr:pop, the marks never.
  int user_keys = 0;
  for (const char* pattern : {"sr:{u:*}:f", "sr:{u:*}:rec", "sr:{u:*}:why"}) {
    // Each key and its TTL, in one call (a redis-cli per key takes minutes
    // on a loaded machine): lines alternate key, TTL.
    std::istringstream listed(redis_.cli(
        "EVAL \"local r = {} for _, k in ipairs(redis.call('KEYS', ARGV[1])) do "
        "r[#r + 1] = k r[#r + 1] = redis.call('TTL', k) end return r\" 0 '" + std::string(pattern) + "'"));
    for (std::string key, ttl; std::getline(listed, key) && std::getline(listed, ttl);) {
      ++user_keys;
      EXPECT_GT(std::stoi(ttl), 0) << key;
      EXPECT_LE(std::stoi(ttl), 3600) << key;
    }
  }
  EXPECT_GE(user_keys, 1000);  // every user's :f at least
  EXPECT_EQ(redis_.cli("TTL 'sr:{i:i1}:f'"), "-1\n");
  EXPECT_EQ(redis_.cli("TTL sr:pop"), "-1\n");
  EXPECT_EQ(redis_.cli("TTL sr:marks"), "-1\n");
}

}  // namespace
}  // namespace streamrec::testing
