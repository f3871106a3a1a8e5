// 100k events produced with kcat (an external Kafka client) end up as exact
// counters and popularity in Redis.
#include <cmath>

#include "feature_store/feature_effects.h"
#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

TEST_F(PipelineTest, HundredThousandKcatEventsBecomeExactCounters) {
  auto learner = start_learner();
  std::vector<Event> events = make_events(100000, 2000, 500);
  produce_events(events);

  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(120)))
      << "Redis holds " << events_in_redis() << " of " << expected_.events << " events";
  expect_exact_counters();

  // sr:pop: every item with its decayed popularity, summed in log space.
  FeatureEffects counters(RedisKeys("sr:"), PopularityConfig{});
  std::map<std::string, std::vector<double>> exponents;
  for (const Event& e : events) exponents[e.item_id].push_back(counters.popularity_exponent(e.type, e.ts_ms));
  EXPECT_EQ(redis_.cli("ZCARD sr:pop"), std::to_string(exponents.size()) + "\n");
  int checked = 0;
  for (auto& [item, xs] : exponents) {
    if (checked++ % 50) continue;  // every 50th item keeps the test quick
    double hi = *std::max_element(xs.begin(), xs.end()), sum = 0;
    for (double x : xs) sum += std::exp2(x - hi);
    EXPECT_NEAR(std::stod(redis_.cli("ZSCORE sr:pop " + item)), hi + std::log2(sum), 1e-6) << item;
  }
  EXPECT_EQ(learner->stop(), 0);
}

}  // namespace
}  // namespace streamrec::testing

namespace streamrec::testing {
namespace {

TEST_F(PipelineTest, ItemMessagesSetItemAttributesAndTheLatestWins) {
  auto learner = start_learner();
  produce_with_kcat({"i1", "i2", "i1"},
                    {R"({"item_id":"i1","category":"books","price":12.5,"ts":1})",
                     R"({"item_id":"i2","category":"toys","price":3,"available":false,"ts":2})",
                     R"({"item_id":"i1","category":"books","price":9.75,"available":false,"ts":3})"},
                    "items");
  ASSERT_TRUE(eventually([&] { return redis_.cli("HGET 'sr:{i:i1}:f' price") == "9.75\n"; }, std::chrono::seconds(30)))
      << redis_.cli("HGETALL 'sr:{i:i1}:f'");
  EXPECT_EQ(redis_.cli("HMGET 'sr:{i:i1}:f' category available"), "books\n0\n");
  EXPECT_EQ(redis_.cli("HMGET 'sr:{i:i2}:f' category price available"), "toys\n3\n0\n");
  // The same flags in sr:available, the hash serve checks rankings against (i1 was on sale first).
  EXPECT_EQ(redis_.cli("HMGET sr:available i1 i2"), "0\n0\n");
  EXPECT_EQ(learner->stop(), 0);
}

}  // namespace
}  // namespace streamrec::testing
