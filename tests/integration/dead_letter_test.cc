// Malformed messages go to events.dlq unchanged, each with the reason in an
// `error` header; the valid messages around them are all counted.
#include <set>
#include <sstream>

#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

struct Malformed {
  std::string payload;
  std::string reason;  // the error code the header must start with
};

// Twelve kinds of bad message; `k` varies the content so they are distinct.
Malformed malformed(int k) {
  std::string id = "bad" + std::to_string(k);
  std::string ok_tail = R"(,"user_id":"u1","item_id":"i1","ts":1767225600000})";
  switch (k % 12) {
    case 0: return {R"({"event_id":")" + id + R"(","type":"click",)", "bad_json"};
    case 1: return {"{\"event_id\":\"" + id + "\xff\",\"type\":\"click\"" + ok_tail, "not_utf8"};
    case 2: return {"[\"" + id + "\"]", "not_object"};
    case 3: return {R"({"type":"click","user_id":"u1","item_id":"i1","ts":1,"note":")" + id + "\"}", "missing_field"};
    case 4: return {R"({"event_id":")" + id + R"(","type":"click","user_id":7,"item_id":"i1","ts":1})", "wrong_type"};
    case 5: return {R"({"event_id":")" + id + R"(","type":"click","user_id":"","item_id":"i1","ts":1})", "empty_id"};
    case 6: return {R"({"event_id":")" + id + std::string(130, 'x') + R"(","type":"click")" + ok_tail, "id_too_long"};
    case 7: return {R"({"event_id":")" + id + R"(","type":"like")" + ok_tail, "unknown_event_type"};
    case 8: return {R"({"event_id":")" + id + R"(","type":"purchase","value":-5)" + ok_tail, "negative_value"};
    case 9: return {R"({"event_id":")" + id + R"(","type":"click","user_id":"u1","item_id":"i1","ts":-1})",
                    "negative_timestamp"};
    case 10:
      // Few of these: the embedded broker keeps only ~5 MiB per partition.
      if (k % 120 != 10) return {R"({"event_id":")" + id + R"(","type":"click","user_id":["u"],"item_id":"i1","ts":1})", "wrong_type"};
      return {R"({"event_id":")" + id + R"(","type":"click","pad":")" + std::string(70 * 1024, 'p') + "\"" +
                         ok_tail, "too_large"};
    default: return {R"({"event_id":")" + id + R"(","type":"click","user_id":"u1","item_id":"i1","ts":"noon"})",
                     "wrong_type"};
  }
}

TEST_F(PipelineTest, MalformedMessagesLandInTheDeadLetterTopicWithAReason) {
  auto learner = start_learner();
  std::vector<Event> good = make_events(5000, 300, 100);
  std::vector<std::string> keys, payloads;
  std::map<std::string, std::string> reason_by_payload;
  size_t next_good = 0;
  for (int k = 0; k < 1000; ++k) {
    for (int g = 0; g < 5; ++g, ++next_good) {  // good messages around each bad one
      keys.push_back(good[next_good].user_id);
      payloads.push_back(encode_event(good[next_good]));
      expected_.add(good[next_good]);
    }
    Malformed bad = malformed(k);
    keys.push_back("bad");
    payloads.push_back(bad.payload);
    reason_by_payload[bad.payload] = bad.reason;
  }
  ASSERT_EQ(reason_by_payload.size(), 1000u);
  produce_with_kcat(keys, payloads);

  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)))
      << "Redis holds " << events_in_redis() << " of " << expected_.events << " events";
  expect_exact_counters();

  // Read the dead-letter topic back with kcat: headers, then the payload.
  std::string dlq = run_shell("kcat -C -b " + broker_.bootstrap_servers() +
                              " -t events.dlq -o beginning -e -q -f '%h\\t%s\\n' -X fetch.message.max.bytes=2000000");
  std::set<std::string> seen_reasons;
  int count = 0;
  std::istringstream lines(dlq);
  for (std::string line; std::getline(lines, line);) {
    ++count;
    size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line.substr(0, 200);
    std::string headers = line.substr(0, tab), payload = line.substr(tab + 1);
    auto it = reason_by_payload.find(payload);
    ASSERT_NE(it, reason_by_payload.end()) << "not sent unchanged: " << payload.substr(0, 200);
    ASSERT_EQ(headers.rfind("error=" + it->second + ": ", 0), 0u) << headers << " for " << payload.substr(0, 100);
    EXPECT_NE(headers.find(",source=events/"), std::string::npos) << headers;
    seen_reasons.insert(it->second);
    reason_by_payload.erase(it);
  }
  EXPECT_EQ(count, 1000);
  std::map<std::string, int> missing;
  for (auto& [payload, reason] : reason_by_payload) ++missing[reason];
  for (auto& [reason, n] : missing) ADD_FAILURE() << n << " malformed messages (" << reason << ") missing from events.dlq";
  EXPECT_GE(seen_reasons.size(), 10u);
  EXPECT_EQ(learner->stop(), 0);
}

}  // namespace
}  // namespace streamrec::testing
