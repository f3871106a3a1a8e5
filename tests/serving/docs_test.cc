// Every example of docs/serving.md (curl, and the clients that read Redis
// and write Kafka directly) runs against a live `streamrec serve`
// holding the data the examples describe, and answers with the fields, ids,
// sources, errors and counts the page shows (times, scores and embeddings
// may differ).
#include <fstream>
#include <regex>
#include <set>
#include <tuple>
#include <sstream>

#include "core/wall_clock.h"
#include "tests/serving/serve_fixture.h"

namespace streamrec::testing {
namespace {

struct Example {
  std::string command;
  std::string answer;
};

std::vector<Example> examples(const std::string& markdown) {
  std::vector<Example> out;
  static const std::regex pair(R"(```sh\n([^`]*)```\n```json\n([^`]*)```)");
  for (auto it = std::sregex_iterator(markdown.begin(), markdown.end(), pair); it != std::sregex_iterator(); ++it)
    out.push_back({(*it)[1].str(), (*it)[2].str()});
  return out;
}

// Same shape; same strings and booleans; same counts and lines.
void expect_same(simdjson::dom::element documented, simdjson::dom::element got, const std::string& path) {
  ASSERT_EQ(documented.type(), got.type()) << path;
  switch (documented.type()) {
    case simdjson::dom::element_type::OBJECT: {
      std::set<std::string> want, have;
      for (auto [key, value] : documented.get_object()) want.emplace(key);
      for (auto [key, value] : got.get_object()) have.emplace(key);
      ASSERT_EQ(want, have) << path;
      for (auto [key, value] : documented.get_object())
        expect_same(value, got[key].value(), path + "." + std::string(key));
      break;
    }
    case simdjson::dom::element_type::ARRAY: {
      auto a = documented.get_array().value(), b = got.get_array().value();
      ASSERT_EQ(a.size(), b.size()) << path;
      for (size_t i = 0; i < a.size(); ++i) expect_same(a.at(i).value(), b.at(i).value(), path + "[" + std::to_string(i) + "]");
      break;
    }
    case simdjson::dom::element_type::STRING:
      // A tombstone's event_id is random: only its form is documented.
      if (path.ends_with(".event_id") && std::string_view(documented).starts_with("forget-")) {
        EXPECT_TRUE(std::string_view(got).starts_with("forget-")) << path;
        break;
      }
      [[fallthrough]];
    case simdjson::dom::element_type::BOOL:
      EXPECT_EQ(simdjson::minify(documented), simdjson::minify(got)) << path;
      break;
    default:
      for (const std::string exact : {".accepted", ".rejected", ".line", ".delivered", ".failed", ".keys_deleted"}) {
        if (path.size() >= exact.size() && path.compare(path.size() - exact.size(), std::string::npos, exact) == 0) {
          EXPECT_EQ(simdjson::minify(documented), simdjson::minify(got)) << path;
        }
      }
  }
}

TEST_F(ServeTest, EveryCurlExampleOfTheServingDocAnswersAsShown) {
  const int64_t now = wall_clock_ms();
  redis({"ZADD", keys_.user_rankings("u42"), "0.91", "i1", "0.8", "i2", "0.62", "i3"});
  redis({"HSET", keys_.item_features("i2"), "available", "0"});
  redis({"HSET", "sr:{u:u42}:why", "i1", "recent|i1||0|0.05|0.1|0.06|1|15.17", "i3",
         "category|i1|books|0.5|0.04|0.12|0.0386|16|1"});
  redis({"HSET", keys_.user_features("u42"), "impressions", "40", "clicks", "3", "purchases", "1", "ts",
         "1767225600123", "recent", R"(["i1","i3"])", "emb", float32_bytes({0.25f, -1.5f, 0.003f}), "rec_ts",
         std::to_string(now - 1250)});
  redis({"HSET", keys_.item_features("i7"), "category", "books", "price", "12.5", "available", "1", "impressions",
         "120", "clicks", "9", "purchases", "2", "emb", float32_bytes({0.5f, 1.0f})});
  redis({"ZADD", keys_.popularity(), "27.3", "i7", "26.9", "i1", "26.5", "i2"});
  // The user the DELETE example forgets.
  redis({"HSET", keys_.user_features("u13"), "clicks", "2"});
  redis({"ZADD", keys_.user_rankings("u13"), "0.5", "i1"});
  redis({"HSET", keys_.user_explanations("u13"), "i1", "recent|i1||0|0.05|0.1|0.06|1|15.17"});
  redis({"HSET", keys_.model(), "version", "17", "updated_ts", std::to_string(now - 2000)});
  // Two stats samples of one learner, 2 s apart (the dashboard's example).
  for (auto [ago, events, dead, samples, rankings, fresh, le, auc] :
       {std::tuple{3000, 1000, 1, 500, 10, 4, "\"10\":4,\"50\":4", "0.61"},
        std::tuple{1000, 4000, 5, 1500, 30, 14, "\"10\":9,\"50\":14", "0.64"}})
    redis({"LPUSH", "sr:stats",
           "{\"ts\":" + std::to_string(now - ago) + ",\"learner\":\"host:4242\",\"consumer\":{\"events\":" +
               std::to_string(events) + ",\"dead_letters\":" + std::to_string(dead) +
               ",\"dead_letters_by_reason\":{\"bad_json\":" + std::to_string(dead) +
               "},\"lag\":7},\"sink\":{\"samples_learned\":" + std::to_string(samples) +
               ",\"rankings_written\":" + std::to_string(rankings) + ",\"freshness_ms\":{\"count\":" +
               std::to_string(fresh) + ",\"le\":{" + le + "}},\"auc_click_window\":" + auc +
               ",\"auc_ctcvr_window\":null,\"tasks\":{\"click\":{\"calibration\":0.98},\"ctcvr\":{}}}}"});
  start_serve();

  std::ifstream in(std::string(STREAMREC_SOURCE_DIR) + "/docs/serving.md");
  const std::string markdown((std::istreambuf_iterator<char>(in)), {});
  const auto all = examples(markdown);
  ASSERT_GE(all.size(), 13u) << "docs/serving.md lost its examples";
  for (const Example& example : all) {
    const std::string script = dir_ + "/example.sh";
    // The clients' examples read Redis and write Kafka directly, with
    // Debian's python3 (and its python3-redis, python3-confluent-kafka).
    std::ofstream(script) << "cd " << dir_ << "\nexport PATH=/usr/bin:$PATH\n"
                          << "export STREAMREC_URL=http://127.0.0.1:" << port_ << "\nexport STREAMREC_TOKEN=" << kToken
                          << "\nexport REDIS_HOST=127.0.0.1 REDIS_PORT=" << redis_->port()
                          << " KAFKA=" << broker_->bootstrap_servers() << "\n"
                          << example.command;
    int rc = -1;
    const std::string answer = run_shell("bash " + script + " 2>&1", &rc);
    ASSERT_EQ(rc, 0) << example.command << answer;
    simdjson::dom::parser want_parser, got_parser;
    simdjson::padded_string want_text(example.answer), got_text(answer);
    simdjson::dom::element want, got;
    ASSERT_FALSE(want_parser.parse(want_text).get(want)) << "the doc's answer is not JSON: " << example.answer;
    ASSERT_FALSE(got_parser.parse(got_text).get(got)) << example.command << " answered: " << answer;
    SCOPED_TRACE(example.command + " answered " + answer);
    expect_same(want, got, "");
  }
}

}  // namespace
}  // namespace streamrec::testing
