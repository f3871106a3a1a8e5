// Two learners in one consumer group split the events partitions, but each
// reads the whole items topic: both hold every item of the catalog, whoever
// joined first, and both go on counting every event exactly once. And a
// catalog loaded from a dataset at start keeps its item file's categories.
#include <fstream>

#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

int64_t stat(const std::string& stats, const std::string& field) {
  return std::max<int64_t>(0, static_cast<int64_t>(stats_number(stats, field)));
}

TEST_F(PipelineTest, TwoLearnersInOneGroupEachHoldTheWholeCatalog) {
  // Items first, before any learner: the catalog is already in Kafka.
  constexpr int kItems = 400;
  std::vector<std::string> keys, payloads;
  for (int i = 0; i < kItems / 2; ++i) {
    Item item{"i" + std::to_string(i), "cat" + std::to_string(i % 9), 2.0 + i, true, 1767225600000};
    keys.push_back(item.item_id);
    payloads.push_back(encode_item(item));
  }
  produce_with_kcat(keys, payloads, "items");

  std::string stats_a = dir_ + "/a.json", stats_b = dir_ + "/b.json";
  std::vector<std::string> quick = {"--status-interval", "0.2"};
  auto a = start_learner(quick, stats_a);
  auto b = start_learner(quick, stats_b);
  ASSERT_TRUE(eventually(
      [&] {
        return run_shell("grep -l 'partition(s) assigned' " + dir_ + "/learn-0.log " + dir_ + "/learn-1.log | wc -l") ==
               "2\n";
      },
      std::chrono::seconds(30)));

  // The rest of the catalog while both run, then events.
  keys.clear();
  payloads.clear();
  for (int i = kItems / 2; i < kItems; ++i) {
    Item item{"i" + std::to_string(i), "cat" + std::to_string(i % 9), 2.0 + i, true, 1767225600000};
    keys.push_back(item.item_id);
    payloads.push_back(encode_item(item));
  }
  produce_with_kcat(keys, payloads, "items");
  produce_events(make_events(20000, 500, kItems));

  ASSERT_TRUE(eventually([&] { return stat(stats_a, "items") == kItems && stat(stats_b, "items") == kItems; },
                         std::chrono::seconds(60)))
      << "items: " << stat(stats_a, "items") << " and " << stat(stats_b, "items") << " of " << kItems;
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)))
      << "Redis holds " << events_in_redis() << " of " << expected_.events << " events";
  expect_exact_counters();
  for (int i : {0, 199, 200, kItems - 1})
    EXPECT_EQ(redis_.cli("HGET 'sr:{i:i" + std::to_string(i) + "}:f' category"), "cat" + std::to_string(i % 9) + "\n");
  EXPECT_EQ(a->stop(), 0);
  EXPECT_EQ(b->stop(), 0);
  // The stats files as each learner wrote them at its stop (while running
  // they are written now and then, and may lag what Redis already holds):
  // the events split between the two, every one counted once...
  EXPECT_GT(stat(stats_a, "events"), 0);
  EXPECT_GT(stat(stats_b, "events"), 0);
  EXPECT_EQ(stat(stats_a, "events") + stat(stats_b, "events"), expected_.events);
  // ...and both read the whole catalog to the end, neither counting an item twice.
  EXPECT_EQ(stat(stats_a, "items"), kItems);
  EXPECT_EQ(stat(stats_b, "items"), kItems);
}

// A RetailRocket catalog loaded at start (learn --catalog events.csv
// --catalog-format retailrocket --catalog-items item_properties.csv): its
// items reach Redis with the categories of the item file, read by
// redis-cli.
TEST_F(PipelineTest, ACatalogFromADatasetTakesTheCategoriesOfItsItemFile) {
  {
    std::ofstream events(dir_ + "/events.csv");
    events << "timestamp,visitorid,event,itemid,transactionid\n"
           << "1433221332117,257597,view,355908,\n"
           << "1433221332118,257597,view,248676,\n";
    std::ofstream properties(dir_ + "/item_properties.csv");
    properties << "timestamp,itemid,property,value\n"
               << "1433221332000,355908,categoryid,1173\n"
               << "1433221332000,248676,categoryid,1602\n";
  }
  auto learner = start_learner({"--catalog", dir_ + "/events.csv", "--catalog-format", "retailrocket",
                                "--catalog-items", dir_ + "/item_properties.csv", "--status-interval", "0.2"});
  // The catalog's attributes go to Redis with the first write: one event.
  Event click;
  click.event_id = "e1";
  click.type = EventType::kClick;
  click.user_id = "257597";
  click.item_id = "355908";
  click.ts_ms = 1767225600000;
  produce_events({click});
  ASSERT_TRUE(eventually([&] { return events_in_redis() == 1; }, std::chrono::seconds(60)));
  ASSERT_TRUE(eventually([&] { return redis_.cli("HGET 'sr:{i:248676}:f' category") == "1602\n"; },
                         std::chrono::seconds(30)))
      << redis_.cli("HGETALL 'sr:{i:248676}:f'");
  EXPECT_EQ(redis_.cli("HGET 'sr:{i:355908}:f' category"), "1173\n");
  EXPECT_EQ(learner->stop(), 0);
}

}  // namespace
}  // namespace streamrec::testing
