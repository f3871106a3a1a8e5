// Malformed and hostile messages (docs/events.md, "Dead letters") go to
// events.dlq unchanged, each with the reason in an `error` header; the valid
// messages around them are all counted. On the events topic and on items.
#include <algorithm>
#include <chrono>
#include <set>
#include <sstream>

#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

struct Malformed {
  std::string payload;
  std::string reason;  // the error code the header must start with
  std::string kind;    // what is wrong, one name per kind
};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Every kind of bad event message this test sends; `k` varies the content so
// that each message is distinct. The ones ahead of the clock name an item of
// their own, which must then be nowhere in Redis.
constexpr int kKinds = 34;
Malformed malformed(int k) {
  std::string id = "bad" + std::to_string(k);
  std::string head = R"({"event_id":")" + id + "\"";
  std::string ok_tail = R"(,"user_id":"u1","item_id":"i1","ts":1767225600000})";
  std::string click = head + R"(,"type":"click")";
  auto event_with = [&](const std::string& field_and_value) {
    return click + R"(,"user_id":"u1","item_id":"i1","ts":1767225600000,)" + field_and_value + "}";
  };
  switch (k % kKinds) {
    case 0: return {head + R"(,"type":"click",)", "bad_json", "truncated"};
    case 1: return {"{\"event_id\":\"" + id + "\xff\",\"type\":\"click\"" + ok_tail, "not_utf8", "bad UTF-8"};
    case 2: return {"[\"" + id + "\"]", "not_object", "an array"};
    case 3: return {R"({"type":"click","user_id":"u1","item_id":"i1","ts":1,"note":")" + id + "\"}", "missing_field",
                    "no event_id"};
    case 4: return {head + R"(,"type":"click","user_id":7,"item_id":"i1","ts":1})", "wrong_type", "numeric user_id"};
    case 5: return {head + R"(,"type":"click","user_id":"","item_id":"i1","ts":1})", "empty_id", "empty user_id"};
    case 6: return {R"({"event_id":")" + id + std::string(130, 'x') + R"(","type":"click")" + ok_tail, "id_too_long",
                    "long event_id"};
    case 7: return {head + R"(,"type":"like")" + ok_tail, "unknown_event_type", "type like"};
    case 8: return {head + R"(,"type":"purchase","value":-5)" + ok_tail, "negative_value", "negative value"};
    case 9: return {click + R"(,"user_id":"u1","item_id":"i1","ts":-1})", "negative_timestamp", "negative ts"};
    case 10:
      // Few of these: the embedded broker keeps only ~5 MiB per partition.
      if (k % (10 * kKinds) != 10)
        return {click + R"(,"user_id":["u"],"item_id":"i1","ts":1})", "wrong_type", "user_id an array"};
      return {click + R"(,"pad":")" + std::string(70 * 1024, 'p') + "\"" + ok_tail, "too_large", "70 KiB"};
    case 11: return {click + R"(,"user_id":"u1","item_id":"i1","ts":"noon"})", "wrong_type", "ts a string"};
    case 12: return {click + R"(,"user_id":"u1","item_id":"i1","ts":1767225600000.5})", "wrong_type", "ts fractional"};
    case 13: return {click + R"(,"user_id":"u1","item_id":"i1","ts":18446744073709551615})", "wrong_type",
                     "ts beyond int64"};
    case 14: return {click + R"(,"user_id":"u1","item_id":"future-item","ts":)" + std::to_string(now_ms() + 2 * 86400000LL) +
                         "}",
                     "future_timestamp", "two days ahead"};
    case 15: return {click + R"(,"user_id":"u1","item_id":"future-item","ts":9223372036854775000})", "future_timestamp",
                     "near INT64_MAX"};
    case 16: return {click + R"(,"user_id":"u1","item_id":"future-item","ts":253402300800000})", "future_timestamp",
                     "after 9999"};
    case 17: return {head + R"(,"type":"purchase","value":1e300)" + ok_tail, "value_out_of_range", "value 1e300"};
    case 18: return {head + R"(,"type":"purchase","value":1e999)" + ok_tail, "bad_json", "value infinite"};
    case 19: return {head + R"(,"type":"purchase","value":NaN)" + ok_tail, "bad_json", "value NaN"};
    case 20: return {head + R"(,"type":"purchase","value":Infinity)" + ok_tail, "bad_json", "value Infinity"};
    case 21: return {event_with(R"("request_id":")" + std::string(200, 'r') + "\""), "too_long", "long request_id"};
    case 22: {
      std::string ctx = "{";
      for (int i = 0; i < 40; ++i) ctx += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
      return {event_with("\"context\":" + ctx + "}"), "too_many_context_keys", "40 context keys"};
    }
    case 23: return {event_with(R"("context":{")" + std::string(100, 'k') + R"(":"x"})"), "too_long", "long context key"};
    case 24: return {event_with(R"("context":{"device":")" + std::string(200, 'v') + R"("})"), "too_long",
                     "long context value"};
    case 25: return {event_with(R"("context":{"device":{"os":"ios"}})"), "wrong_type", "nested context value"};
    case 26: return {event_with(R"("x":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]])"), "too_deep", "20 levels deep"};
    case 27: return {event_with(R"("value":"12")"), "wrong_type", "value a string"};
    case 28: return {click + R"(,"user_id":"u1","item_id":"i1"})", "missing_field", "no ts"};
    case 29: return {std::to_string(k), "not_object", "a number"};
    case 30: return {head + R"(,"type":"click","user_id":"u1","item_id":")" + std::string(129, 'i') +
                         R"(","ts":1})",
                     "id_too_long", "long item_id"};
    case 31: return {head + R"(,"type":"click")" + ok_tail + " trailing", "bad_json", "trailing garbage"};
    case 32: return {head + R"(,"type":3)" + ok_tail, "wrong_type", "type a number"};
    default: return {event_with(R"("context":{"hour":1e999})"), "bad_json", "context number infinite"};
  }
}

// Reads events.dlq back with kcat (headers, a tab, the payload) and checks
// each dead letter against `reason_by_payload`, which it empties; returns
// the kinds seen and the number of dead letters.
struct DeadLetters {
  std::set<std::string> kinds;
  int count = 0;
};
DeadLetters check_dead_letters(const std::string& bootstrap, const std::string& source_topic,
                               std::map<std::string, Malformed>& by_payload) {
  // The learner acknowledges a dead letter when the topic has it, later than
  // the counters reach Redis (DeadLetterQueue sends without blocking): read
  // until every one is there, or a minute has passed.
  std::string dlq;
  eventually([&] {
    dlq = run_shell("kcat -C -b " + bootstrap +
                    " -t events.dlq -o beginning -e -q -f '%h\\t%s\\n' -X fetch.message.max.bytes=2000000");
    return static_cast<size_t>(std::count(dlq.begin(), dlq.end(), '\n')) >= by_payload.size();
  }, std::chrono::seconds(60));
  DeadLetters out;
  std::istringstream lines(dlq);
  for (std::string line; std::getline(lines, line);) {
    ++out.count;
    size_t tab = line.find('\t');
    EXPECT_NE(tab, std::string::npos) << line.substr(0, 200);
    if (tab == std::string::npos) continue;
    std::string headers = line.substr(0, tab), payload = line.substr(tab + 1);
    auto it = by_payload.find(payload);
    EXPECT_NE(it, by_payload.end()) << "not sent unchanged: " << payload.substr(0, 200);
    if (it == by_payload.end()) continue;
    EXPECT_EQ(headers.rfind("error=" + it->second.reason + ": ", 0), 0u)
        << it->second.kind << ": " << headers << " for " << payload.substr(0, 100);
    EXPECT_NE(headers.find(",source=" + source_topic + "/"), std::string::npos) << headers;
    out.kinds.insert(it->second.kind);
    by_payload.erase(it);
  }
  std::map<std::string, int> missing;
  for (auto& [payload, bad] : by_payload) ++missing[bad.kind];
  for (auto& [kind, n] : missing) ADD_FAILURE() << n << " malformed messages (" << kind << ") missing from events.dlq";
  return out;
}

TEST_F(PipelineTest, MalformedMessagesLandInTheDeadLetterTopicWithAReason) {
  auto learner = start_learner();
  constexpr int kBad = 30 * kKinds;
  std::vector<Event> good = make_events(5 * kBad, 300, 100);
  std::vector<std::string> keys, payloads;
  std::map<std::string, Malformed> by_payload;
  size_t next_good = 0;
  int late = 0;
  for (int k = 0; k < kBad; ++k) {
    for (int g = 0; g < 5; ++g, ++next_good) {  // good messages around each bad one
      Event& e = good[next_good];
      // Now and then one three days older than the rest: late, and counted.
      if (next_good % 97 == 50) {
        e.ts_ms -= 3 * 86400000LL;
        ++late;
      }
      keys.push_back(e.user_id);
      payloads.push_back(encode_event(e));
      expected_.add(e);
    }
    Malformed bad = malformed(k);
    keys.push_back("bad");
    payloads.push_back(bad.payload);
    by_payload[bad.payload] = bad;
  }
  ASSERT_EQ(by_payload.size(), static_cast<size_t>(kBad));
  produce_with_kcat(keys, payloads);

  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)))
      << "Redis holds " << events_in_redis() << " of " << expected_.events << " events";
  expect_exact_counters();

  DeadLetters dead = check_dead_letters(broker_.bootstrap_servers(), "events", by_payload);
  EXPECT_EQ(dead.count, kBad);
  EXPECT_GE(dead.kinds.size(), 25u);
  EXPECT_EQ(dead.kinds.size(), static_cast<size_t>(kKinds + 1));  // kind 10 comes in two shapes
  // The events ahead of the clock left no trace: no counters, no popularity.
  EXPECT_EQ(redis_.cli("ZSCORE sr:pop future-item"), "\n");
  EXPECT_EQ(redis_.cli("EXISTS 'sr:{i:future-item}:f'"), "0\n");
  EXPECT_EQ(learner->stop(), 0);
  EXPECT_EQ(stats_number(stats_file(), "dead_letters"), kBad);
  EXPECT_EQ(stats_number(stats_file(), "events"), expected_.events);
  EXPECT_EQ(stats_number(stats_file(), "late"), late);
  EXPECT_GT(late, 0);
}

// The same rules hold on the items topic: bad items are dead-lettered with
// their reason, the good ones around them all reach the catalog and Redis.
TEST_F(PipelineTest, MalformedItemsLandInTheDeadLetterTopicWithAReason) {
  auto learner = start_learner();
  auto bad_item = [](int k) -> Malformed {
    std::string id = "bad" + std::to_string(k);
    std::string head = R"({"item_id":")" + id + "\"";
    switch (k % 15) {
      case 0: return {head + R"(,"ts":1,)", "bad_json", "truncated"};
      case 1: return {R"({"ts":1,"category":")" + id + "\"}", "missing_field", "no item_id"};
      case 2: return {head + R"(,"category":"c"})", "missing_field", "no ts"};
      case 3: return {head + R"(,"ts":1,"price":-3})", "negative_value", "negative price"};
      case 4: return {head + R"(,"ts":1,"price":2e9})", "value_out_of_range", "price 2e9"};
      case 5: return {head + R"(,"ts":1,"price":1e999})", "bad_json", "price infinite"};
      case 6: return {head + R"(,"ts":1,"category":")" + std::string(200, 'c') + "\"}", "too_long", "long category"};
      case 7: return {head + R"(,"ts":)" + std::to_string(now_ms() + 2 * 86400000LL) + "}", "future_timestamp",
                      "two days ahead"};
      case 8: return {head + R"(,"ts":9223372036854775000})", "future_timestamp", "near INT64_MAX"};
      case 9: return {head + R"(,"ts":1,"x":[[[[[[[[[[1]]]]]]]]]]})", "too_deep", "10 levels deep"};
      case 10: return {head + R"(,"ts":1,"available":"yes"})", "wrong_type", "available a string"};
      case 11: return {R"({"item_id":"","ts":1,"note":")" + id + "\"}", "empty_id", "empty item_id"};
      case 12: return {R"({"item_id":")" + id + std::string(130, 'i') + R"(","ts":1})", "id_too_long", "long item_id"};
      case 13: return {"[\"" + id + "\"]", "not_object", "an array"};
      default: return {head + ",\"ts\":1,\"category\":\"\xff" + id + "\"}", "not_utf8", "bad UTF-8"};
    }
  };
  std::vector<std::string> keys, payloads;
  std::map<std::string, Malformed> by_payload;
  int good = 0;
  for (int k = 0; k < 150; ++k) {
    for (int g = 0; g < 3; ++g, ++good) {
      Item item{"good" + std::to_string(good), "cat" + std::to_string(good % 7), 1.5 * good, true, 1767225600000};
      keys.push_back(item.item_id);
      payloads.push_back(encode_item(item));
    }
    Malformed bad = bad_item(k);
    keys.push_back("bad");
    payloads.push_back(bad.payload);
    by_payload[bad.payload] = bad;
  }
  produce_with_kcat(keys, payloads, "items");
  ASSERT_TRUE(eventually([&] { return stats_number(stats_file(), "items") == good; }, std::chrono::seconds(60)))
      << stats_number(stats_file(), "items") << " of " << good << " items";
  ASSERT_TRUE(eventually([&] { return redis_.cli("HGET 'sr:{i:good" + std::to_string(good - 1) + "}:f' category") ==
                                      "cat" + std::to_string((good - 1) % 7) + "\n"; },
                         std::chrono::seconds(30)));
  for (int i : {0, 1, 200, good - 1})
    EXPECT_EQ(redis_.cli("HGET 'sr:{i:good" + std::to_string(i) + "}:f' category"), "cat" + std::to_string(i % 7) + "\n");
  DeadLetters dead = check_dead_letters(broker_.bootstrap_servers(), "items", by_payload);
  EXPECT_EQ(dead.count, 150);
  EXPECT_EQ(dead.kinds.size(), 15u);
  EXPECT_EQ(learner->stop(), 0);
  EXPECT_EQ(stats_number(stats_file(), "dead_letters"), 150);
}

}  // namespace
}  // namespace streamrec::testing
