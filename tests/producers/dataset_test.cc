// read_dataset (producers/datasets/dataset.h): each format on a small file
// the test writes itself -- behaviours mapped to events, the catalog derived,
// malformed rows rejected with their line numbers, disorder sorted.
#include "producers/datasets/dataset.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace streamrec {
namespace {

namespace fs = std::filesystem;

// A file with the given text, removed at the end of the test.
class Fixture {
 public:
  explicit Fixture(const std::string& text) {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    path_ = (fs::temp_directory_path() /
             ("streamrec-dataset-" + std::to_string(::getpid()) + "-" + name + "-" + std::to_string(counter_++)))
                .string();
    std::ofstream(path_, std::ios::binary) << text;
  }
  ~Fixture() { fs::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

Dataset read_ok(const Fixture& f, DatasetFormat format, const DatasetOptions& options = {}) {
  auto d = read_dataset(f.path(), format, options);
  EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
  return d.ok() ? std::move(d).value() : Dataset{};
}

const DatasetItem* find_item(const Dataset& d, const std::string& id) {
  for (const DatasetItem& i : d.items)
    if (i.item.item_id == id) return &i;
  return nullptr;
}

TEST(DatasetFormatTest, NamesRoundTripAndUnknownIsAnError) {
  for (auto f : {DatasetFormat::kJsonl, DatasetFormat::kTaobao, DatasetFormat::kRetailRocket, DatasetFormat::kRees46,
                 DatasetFormat::kMovieLens, DatasetFormat::kCsv}) {
    auto parsed = parse_dataset_format(to_string(f));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, f);
  }
  auto bad = parse_dataset_format("parquet");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("taobao"), std::string::npos) << bad.error().message;
}

TEST(TaobaoTest, BehavioursBecomeClicksAndPurchasesWithTheCatalogDerived) {
  Fixture f(
      "1,100,7,pv,1511658000\n"
      "1,100,7,cart,1511658001\n"
      "2,200,8,fav,1511658002\n"
      "1,100,7,buy,1511658003\n"
      "3,300,9,pv,1511658004\n");
  Dataset d = read_ok(f, DatasetFormat::kTaobao);
  ASSERT_EQ(d.events.size(), 5u);
  EXPECT_EQ(d.events[0].event_id, "taobao:1");
  EXPECT_EQ(d.events[0].type, EventType::kClick);
  EXPECT_EQ(d.events[0].user_id, "1");
  EXPECT_EQ(d.events[0].item_id, "100");
  EXPECT_EQ(d.events[0].ts_ms, 1511658000000);
  EXPECT_EQ(d.events[1].type, EventType::kClick);  // cart
  EXPECT_EQ(d.events[2].type, EventType::kClick);  // fav
  EXPECT_EQ(d.events[3].type, EventType::kPurchase);
  EXPECT_EQ(d.events[3].event_id, "taobao:4");
  EXPECT_EQ(d.stats.rows, 5);
  EXPECT_EQ(d.stats.clicks, 4);
  EXPECT_EQ(d.stats.purchases, 1);
  EXPECT_EQ(d.stats.rejected_rows, 0);
  EXPECT_EQ(d.stats.out_of_order, 0);
  ASSERT_EQ(d.items.size(), 3u);  // in order of first appearance
  EXPECT_EQ(d.items[0].item.item_id, "100");
  EXPECT_EQ(d.items[0].item.category, "7");
  EXPECT_EQ(d.items[0].item.ts_ms, 1511658000000);
  EXPECT_TRUE(d.items[0].item.available);
  EXPECT_EQ(d.items[1].item.item_id, "200");
  EXPECT_EQ(d.items[2].item.category, "9");
}

TEST(TaobaoTest, MalformedRowsAreRejectedWithTheirLineNumbersAndTheRestKept) {
  Fixture f(
      "1,100,7,pv,1511658000\n"
      "1,100,7,pv\n"                  // 2: four columns
      "1,100,7,pv,soon\n"             // 3: ts not an integer
      "1,100,7,look,1511658001\n"     // 4: unknown behaviour
      ",100,7,pv,1511658001\n"        // 5: empty user
      "1,100,7,pv,-5\n"               // 6: before 1970
      "\n"                            // blank: not a row
      "2,200,8,buy,1511658002\n");    // 8
  Dataset d = read_ok(f, DatasetFormat::kTaobao);
  ASSERT_EQ(d.events.size(), 2u);
  EXPECT_EQ(d.events[1].event_id, "taobao:8");
  EXPECT_EQ(d.stats.rows, 7);
  EXPECT_EQ(d.stats.rejected_rows, 5);
  ASSERT_EQ(d.stats.rejected.size(), 5u);
  EXPECT_EQ(d.stats.rejected[0].line, 2);
  EXPECT_NE(d.stats.rejected[0].message.find("4 columns, expected 5"), std::string::npos) << d.stats.rejected[0].message;
  EXPECT_EQ(d.stats.rejected[1].line, 3);
  EXPECT_NE(d.stats.rejected[1].message.find("ts"), std::string::npos) << d.stats.rejected[1].message;
  EXPECT_EQ(d.stats.rejected[2].line, 4);
  EXPECT_NE(d.stats.rejected[2].message.find("look"), std::string::npos) << d.stats.rejected[2].message;
  EXPECT_EQ(d.stats.rejected[3].line, 5);
  EXPECT_NE(d.stats.rejected[3].message.find("user"), std::string::npos) << d.stats.rejected[3].message;
  EXPECT_EQ(d.stats.rejected[4].line, 6);
  EXPECT_NE(describe_problems(d.stats).find("5 malformed rows rejected (first: line 2"), std::string::npos)
      << describe_problems(d.stats);
  // Only rows that made an event name items.
  ASSERT_EQ(d.items.size(), 2u);
}

TEST(TaobaoTest, StrictFailsAtTheFirstMalformedRowNamingFileAndLine) {
  Fixture f("1,100,7,pv,1511658000\n1,100,7,pv,1511658000,\"x\n");
  DatasetOptions options;
  options.strict = true;
  auto d = read_dataset(f.path(), DatasetFormat::kTaobao, options);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find(f.path() + ":2: "), std::string::npos) << d.error().message;
}

TEST(TaobaoTest, KeepsAtMostMaxRejectedKeptMessagesButCountsAll) {
  std::string text;
  for (int i = 0; i < 50; ++i) text += "1,100,7,pv,x\n";
  Fixture f(text);
  DatasetOptions options;
  options.max_rejected_kept = 3;
  Dataset d = read_ok(f, DatasetFormat::kTaobao, options);
  EXPECT_EQ(d.stats.rejected_rows, 50);
  EXPECT_EQ(d.stats.rejected.size(), 3u);
  EXPECT_TRUE(d.events.empty());
}

TEST(TaobaoTest, OutOfOrderInputIsNoticedAndSortedStably) {
  Fixture f(
      "1,100,7,pv,1000\n"
      "1,101,7,pv,3000\n"
      "2,102,7,pv,2000\n"   // back in time
      "2,103,7,pv,2000\n"   // still behind 3000
      "3,104,7,pv,4000\n");
  Dataset d = read_ok(f, DatasetFormat::kTaobao);
  EXPECT_EQ(d.stats.out_of_order, 2);
  ASSERT_EQ(d.events.size(), 5u);
  std::vector<std::string> ids;
  for (const Event& e : d.events) ids.push_back(e.event_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"taobao:1", "taobao:3", "taobao:4", "taobao:2", "taobao:5"}));
  EXPECT_NE(describe_problems(d.stats).find("2 rows out of event-time order: sorted"), std::string::npos);
}

TEST(TaobaoTest, AMissingFileIsAnError) {
  auto d = read_dataset("/nonexistent/UserBehavior.csv", DatasetFormat::kTaobao);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("/nonexistent/UserBehavior.csv: cannot be opened"), std::string::npos);
}

constexpr const char* kRees46Header =
    "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n";

TEST(Rees46Test, ViewsAndCartsAreClicksPurchasesCarryThePriceAndTheCatalogHasBrandAndCategory) {
  Fixture f(std::string(kRees46Header) +
            "2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,72d76fde\n"
            "2019-10-01 00:00:01 UTC,view,3900821,2053013552326770905,appliances.environment.water_heater,aqua,33.20,"
            "554748717,9333dfbd\n"
            "2019-10-01 00:00:02 UTC,cart,3900821,2053013552326770905,appliances.environment.water_heater,aqua,31.50,"
            "554748717,9333dfbd\n"
            "2019-10-01 00:00:03 UTC,remove_from_cart,3900821,2053013552326770905,"
            "appliances.environment.water_heater,aqua,31.50,554748717,9333dfbd\n"
            "2019-10-01 00:00:04.500 UTC,purchase,3900821,2053013552326770905,appliances.environment.water_heater,,"
            "30.00,554748717,9333dfbd\n");
  Dataset d = read_ok(f, DatasetFormat::kRees46);
  ASSERT_EQ(d.events.size(), 4u);
  EXPECT_EQ(d.events[0].event_id, "rees46:2");  // line 1 is the header
  EXPECT_EQ(d.events[0].type, EventType::kClick);
  EXPECT_EQ(d.events[0].user_id, "541312140");
  EXPECT_EQ(d.events[0].item_id, "44600062");
  EXPECT_EQ(d.events[0].ts_ms, 1569888000000);  // 2019-10-01T00:00:00Z
  EXPECT_EQ(d.events[2].type, EventType::kClick);  // cart
  EXPECT_EQ(d.events[3].type, EventType::kPurchase);
  EXPECT_EQ(d.events[3].ts_ms, 1569888004500);
  ASSERT_TRUE(d.events[3].value.has_value());
  EXPECT_DOUBLE_EQ(*d.events[3].value, 30.0);
  EXPECT_EQ(d.stats.skipped.at("remove_from_cart"), 1);
  EXPECT_NE(describe_problems(d.stats).find("remove_from_cart 1"), std::string::npos);

  ASSERT_EQ(d.items.size(), 2u);
  const DatasetItem* no_code = find_item(d, "44600062");
  ASSERT_NE(no_code, nullptr);
  EXPECT_EQ(no_code->item.category, "2103807459595387724");  // category_code empty: category_id
  EXPECT_EQ(no_code->item.brand, "shiseido");
  EXPECT_DOUBLE_EQ(no_code->item.price, 35.79);
  const DatasetItem* heater = find_item(d, "3900821");
  ASSERT_NE(heater, nullptr);
  EXPECT_EQ(heater->item.category, "appliances.environment.water_heater");
  EXPECT_EQ(heater->item.brand, "aqua");                  // the purchase row had none: kept
  EXPECT_DOUBLE_EQ(heater->item.price, 30.0);        // the latest price
  EXPECT_EQ(heater->item.ts_ms, 1569888001000);      // first seen
}

TEST(Rees46Test, MalformedRowsAreRejectedWithTheirLineNumbers) {
  Fixture f(std::string(kRees46Header) +
            "2019-10-01 00:00:00 UTC,view,1,2,c,b,abc,9,s\n"           // 2: price
            "2019-13-01 00:00:00 UTC,view,1,2,c,b,1.0,9,s\n"           // 3: month 13
            "2019-10-01 00:00:00 UTC,like,1,2,c,b,1.0,9,s\n"           // 4: event_type
            "2019-10-01 00:00:00 UTC,view,1,2,c,b,-1,9,s\n"            // 5: negative price
            "2019-10-01 00:00:00 UTC,view,1,2,\"c,d\",b,1.0,9,s\n"     // 6: quoted comma: fine
            "2019-10-01 00:00:00 UTC,view,,2,c,b,1.0,9,s\n"            // 7: empty product_id
            "2019-10-01 00:00:00 UTC,view,1,2,c\n");                   // 8: 5 columns
  Dataset d = read_ok(f, DatasetFormat::kRees46);
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].event_id, "rees46:6");
  EXPECT_EQ(d.items[0].item.category, "c,d");
  std::vector<int64_t> lines;
  for (const RejectedRow& r : d.stats.rejected) lines.push_back(r.line);
  EXPECT_EQ(lines, (std::vector<int64_t>{2, 3, 4, 5, 7, 8}));
  EXPECT_NE(d.stats.rejected[0].message.find("price"), std::string::npos) << d.stats.rejected[0].message;
  EXPECT_NE(d.stats.rejected[1].message.find("event_time"), std::string::npos) << d.stats.rejected[1].message;
  EXPECT_NE(d.stats.rejected[2].message.find("like"), std::string::npos) << d.stats.rejected[2].message;
  EXPECT_NE(d.stats.rejected[3].message.find("negative"), std::string::npos) << d.stats.rejected[3].message;
  EXPECT_NE(d.stats.rejected[4].message.find("product_id"), std::string::npos) << d.stats.rejected[4].message;
}

TEST(Rees46Test, AnotherHeaderIsAnError) {
  Fixture f("user,item,category,behavior,ts\n1,2,3,pv,4\n");
  auto d = read_dataset(f.path(), DatasetFormat::kRees46);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find(":1: expected the header event_time,event_type"), std::string::npos)
      << d.error().message;
}

TEST(RetailRocketTest, ViewsAndAddToCartAreClicksTransactionsArePurchases) {
  Fixture f(
      "timestamp,visitorid,event,itemid,transactionid\n"
      "1433221332117,257597,view,355908,\n"
      "1433224214164,992329,addtocart,248676,\n"
      "1433221999827,111016,transaction,248676,4000\n"   // earlier than the row before
      "1433221999828,111016,refund,248676,\n");          // 5: unknown event
  Dataset d = read_ok(f, DatasetFormat::kRetailRocket);
  ASSERT_EQ(d.events.size(), 3u);
  EXPECT_EQ(d.stats.out_of_order, 1);
  EXPECT_EQ(d.events[1].type, EventType::kPurchase);  // sorted into place
  EXPECT_EQ(d.events[1].ts_ms, 1433221999827);
  EXPECT_EQ(d.events[2].type, EventType::kClick);
  ASSERT_EQ(d.stats.rejected.size(), 1u);
  EXPECT_EQ(d.stats.rejected[0].line, 5);
  EXPECT_EQ(d.items.size(), 2u);
  EXPECT_EQ(find_item(d, "248676")->item.ts_ms, 1433221999827);
}

// item_properties.csv gives each item its latest categoryid; the other
// properties are skipped, a malformed row is rejected naming the item file,
// and an item the events do not name stays out of the catalog.
TEST(RetailRocketTest, TheItemPropertiesFileGivesEachItemItsLatestCategory) {
  Fixture events(
      "timestamp,visitorid,event,itemid,transactionid\n"
      "1433221332117,257597,view,355908,\n"
      "1433224214164,992329,view,248676,\n");
  Fixture properties(
      "timestamp,itemid,property,value\n"
      "1435460400000,355908,categoryid,1173\n"
      "1431226800000,355908,categoryid,491\n"     // older: replaced by the row above
      "1433221332117,355908,888,n552.000 639502\n"  // hashed: skipped
      "1433221332117,248676,available,1\n"
      "1433221332117,248676,categoryid,1602\n"
      "1433221332117,999999,categoryid,7\n"       // no event names it
      "soon,248676,categoryid,1\n");              // 8: malformed
  DatasetOptions options;
  options.items_path = properties.path();
  Dataset d = read_ok(events, DatasetFormat::kRetailRocket, options);
  ASSERT_EQ(d.items.size(), 2u);
  EXPECT_EQ(find_item(d, "355908")->item.category, "1173");
  EXPECT_EQ(find_item(d, "248676")->item.category, "1602");
  EXPECT_EQ(find_item(d, "248676")->item.ts_ms, 1433224214164);  // still its first event's
  ASSERT_EQ(d.stats.rejected_rows, 1);
  EXPECT_EQ(d.stats.rejected[0].line, 8);
  EXPECT_EQ(d.stats.rejected[0].file, properties.path());
  EXPECT_NE(describe_problems(d.stats).find("line 8 of " + properties.path()), std::string::npos)
      << describe_problems(d.stats);
  Fixture wrong("timestamp,itemid,property\n1,2,3\n");
  options.items_path = wrong.path();
  auto refused = read_dataset(events.path(), DatasetFormat::kRetailRocket, options);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find(wrong.path() + ":1: expected the header"), std::string::npos)
      << refused.error().message;
}

TEST(MovieLensTest, EveryRatingIsAClick) {
  Fixture f(
      "userId,movieId,rating,timestamp\n"
      "1,31,2.5,1260759144\n"
      "1,1029,5.0,1260759179\n"
      "2,31,6.0,1260759180\n");   // 4: above 5
  Dataset d = read_ok(f, DatasetFormat::kMovieLens);
  ASSERT_EQ(d.events.size(), 2u);
  EXPECT_EQ(d.events[0].type, EventType::kClick);
  EXPECT_EQ(d.events[0].ts_ms, 1260759144000);
  EXPECT_EQ(d.stats.rejected_rows, 1);
  EXPECT_EQ(d.stats.rejected[0].line, 4);
}

// movies.csv: the genres as written are the film's category (titles quoted
// when they hold a comma); "(no genres listed)" is none.
TEST(MovieLensTest, TheMoviesFileGivesEachFilmItsGenresAsCategory) {
  Fixture ratings(
      "userId,movieId,rating,timestamp\n"
      "1,1,4.0,1260759144\n"
      "1,11,5.0,1260759179\n"
      "2,130,3.0,1260759180\n");
  Fixture movies(
      "movieId,title,genres\n"
      "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
      "11,\"American President, The (1995)\",Comedy|Drama|Romance\n"
      "130,Angela (1995),(no genres listed)\n");
  DatasetOptions options;
  options.items_path = movies.path();
  Dataset d = read_ok(ratings, DatasetFormat::kMovieLens, options);
  ASSERT_EQ(d.items.size(), 3u);
  EXPECT_EQ(find_item(d, "1")->item.category, "Adventure|Animation|Children|Comedy|Fantasy");
  EXPECT_EQ(find_item(d, "11")->item.category, "Comedy|Drama|Romance");
  EXPECT_EQ(find_item(d, "130")->item.category, "");
  EXPECT_EQ(d.stats.rejected_rows, 0);
}

// Formats whose events file carries the attributes refuse an item file,
// naming it.
TEST(DatasetFormatTest, AnItemFileIsRefusedWhereTheEventsCarryTheAttributes) {
  Fixture events("1,100,7,pv,1511658000\n");
  Fixture items("anything\n");
  DatasetOptions options;
  options.items_path = items.path();
  auto refused = read_dataset(events.path(), DatasetFormat::kTaobao, options);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("an item file (" + items.path() + ") with taobao"), std::string::npos)
      << refused.error().message;
}

TEST(MappedCsvTest, ColumnsByHeaderNameAndBehavioursByTheMapping) {
  Fixture f(
      "when;who;what;action;cat;amount\n"
      "1700000000000;u1;i1;show;shoes;\n"
      "1700000000001;u1;i1;tap;shoes;\n"
      "1700000000002;u1;i1;order;shoes;12.5\n"
      "1700000000003;u1;i1;wishlist;shoes;\n"
      "1700000000004;u1;i1;zap;shoes;\n");  // 6: not mapped
  DatasetOptions o;
  o.csv.delimiter = ';';
  o.csv.user = "who";
  o.csv.item = "what";
  o.csv.ts = "when";
  o.csv.ts_unit = "ms";
  o.csv.behavior = "action";
  o.csv.category = "cat";
  o.csv.value = "amount";
  o.csv.behaviors = {{"show", "impression"}, {"tap", "click"}, {"order", "purchase"}, {"wishlist", "skip"}};
  Dataset d = read_ok(f, DatasetFormat::kCsv, o);
  ASSERT_EQ(d.events.size(), 3u);
  EXPECT_EQ(d.events[0].type, EventType::kImpression);
  EXPECT_EQ(d.events[1].type, EventType::kClick);
  EXPECT_EQ(d.events[2].type, EventType::kPurchase);
  EXPECT_DOUBLE_EQ(d.events[2].value.value_or(-1), 12.5);
  EXPECT_EQ(d.events[2].event_id, "csv:4");
  EXPECT_EQ(d.stats.skipped.at("wishlist"), 1);
  ASSERT_EQ(d.stats.rejected.size(), 1u);
  EXPECT_EQ(d.stats.rejected[0].line, 6);
  EXPECT_EQ(d.items.at(0).item.category, "shoes");
}

TEST(MappedCsvTest, WithoutAHeaderColumnsAreNumbersAndEveryRowAClick) {
  Fixture f("2023-11-14T22:13:20Z,a,x\n2023-11-14T22:13:21Z,b,y\n");
  DatasetOptions o;
  o.csv.header = false;
  o.csv.ts = "1";
  o.csv.user = "2";
  o.csv.item = "3";
  o.csv.ts_unit = "iso";
  Dataset d = read_ok(f, DatasetFormat::kCsv, o);
  ASSERT_EQ(d.events.size(), 2u);
  EXPECT_EQ(d.events[0].ts_ms, 1700000000000);
  EXPECT_EQ(d.events[1].type, EventType::kClick);
}

TEST(MappedCsvTest, AColumnTheHeaderLacksIsAnErrorNamingIt) {
  Fixture f("user_id,item_id,time\n1,2,3\n");
  auto d = read_dataset(f.path(), DatasetFormat::kCsv);  // ts defaults to "ts"
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("no column \"ts\""), std::string::npos) << d.error().message;
}

TEST(JsonlTest, TheProjectsEventsWithTheDecodersMessagesForBadLines) {
  Fixture items("{\"item_id\":\"i1\",\"category\":\"c\",\"price\":2.5,\"ts\":1}\n");
  Fixture f(
      "{\"event_id\":\"e1\",\"type\":\"click\",\"user_id\":\"u\",\"item_id\":\"i1\",\"ts\":20}\n"
      "{\"event_id\":\"e2\",\"type\":\"click\",\"user_id\":\"u\",\"ts\":10}\n"
      "{\"event_id\":\"e3\",\"type\":\"purchase\",\"user_id\":\"u\",\"item_id\":\"i2\",\"ts\":10}\n");
  DatasetOptions o;
  o.items_path = items.path();
  Dataset d = read_ok(f, DatasetFormat::kJsonl, o);
  ASSERT_EQ(d.events.size(), 2u);
  EXPECT_EQ(d.events[0].event_id, "e3");  // sorted
  EXPECT_EQ(d.stats.out_of_order, 1);
  ASSERT_EQ(d.stats.rejected.size(), 1u);
  EXPECT_EQ(d.stats.rejected[0].line, 2);
  EXPECT_NE(d.stats.rejected[0].message.find("item_id"), std::string::npos);
  ASSERT_EQ(d.items.size(), 2u);
  EXPECT_EQ(d.items[0].item.category, "c");
  EXPECT_EQ(d.items[1].item.item_id, "i2");
}

}  // namespace
}  // namespace streamrec
