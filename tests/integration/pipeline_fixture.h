// Test support for end-to-end tests: a real redis-server, the embedded Kafka
// broker, `streamrec learn` as a child process, kcat as the producer, and the
// expected Redis counters computed independently from the events sent.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/event.h"
#include "feature_store/redis_connection.h"
#include "tests/support/servers.h"

namespace streamrec::testing {

struct Counts {
  int64_t impressions = 0, clicks = 0, purchases = 0;
  bool operator==(const Counts&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const Counts& c) {
  return os << "{impressions " << c.impressions << ", clicks " << c.clicks << ", purchases " << c.purchases << "}";
}

// What Redis must hold after a set of events was applied exactly once.
struct ExpectedCounters {
  std::map<std::string, Counts> users, items;
  int64_t events = 0;

  void add(const Event& e) {
    ++events;
    for (Counts* c : {&users[e.user_id], &items[e.item_id]}) {
      if (e.type == EventType::kImpression) ++c->impressions;
      if (e.type == EventType::kClick) ++c->clicks;
      if (e.type == EventType::kPurchase) ++c->purchases;
    }
  }
};

// `n` valid events over `users` users and `items` items, deterministic.
inline std::vector<Event> make_events(int n, int users, int items, int first_id = 0) {
  std::vector<Event> events;
  events.reserve(n);
  for (int k = first_id; k < first_id + n; ++k) {
    Event e;
    e.event_id = "e" + std::to_string(k);
    int kind = (k * 7919) % 20;
    e.type = kind < 16 ? EventType::kImpression : kind < 19 ? EventType::kClick : EventType::kPurchase;
    e.user_id = "u" + std::to_string((k * 31) % users);
    e.item_id = "i" + std::to_string((k * 17 + k / 3) % items);
    e.ts_ms = 1767225600000 + k * 10;
    e.request_id = "r" + std::to_string(k / 5);
    e.context = {{"device", k % 2 ? "ios" : "web", false}, {"hour", std::to_string(k % 24), true}};
    if (e.type == EventType::kPurchase) e.value = 10 + k % 90;
    events.push_back(std::move(e));
  }
  return events;
}

// A number from a JSON stats file (the first "field": value in it); -1 when
// the file or the field is missing.
inline double stats_number(const std::string& path, const std::string& field) {
  std::ifstream in(path);
  std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t at = json.find("\"" + field + "\":");
  if (at == std::string::npos) return -1;
  try {
    return std::stod(json.substr(at + field.size() + 3));
  } catch (const std::exception&) {
    return -1;  // null
  }
}

class PipelineTest : public ::testing::Test {
 protected:
  PipelineTest() = default;
  explicit PipelineTest(RedisOptions redis, KafkaOptions kafka = {}) : redis_(redis), broker_(kafka) {}

  void SetUp() override {
    dir_ = make_scratch_dir("pipeline");
    reconnect_redis();
  }

  // The test's own connection, again (after Redis was restarted).
  void reconnect_redis() {
    redis_conn_.reset();
    auto conn = RedisConnection::connect(redis_.url(), 5000);
    ASSERT_TRUE(conn.ok()) << conn.error().message;
    redis_conn_.emplace(std::move(conn).value());
  }

  void TearDown() override { remove_scratch_dir_if_passed(dir_); }

  std::map<std::string, std::string> env() const {
    return {{"STREAMREC_KAFKA_BOOTSTRAP_SERVERS", broker_.bootstrap_servers()},
            {"STREAMREC_REDIS_URL", redis_.url()},
            {"STREAMREC_CONSUMER_SESSION_TIMEOUT_MS", "6000"}};
  }

  // Starts `streamrec learn`; its log goes to <dir>/learn-<n>.log, its
  // stats to `stats` (default stats_file()).
  std::unique_ptr<Subprocess> start_learner(std::vector<std::string> extra = {}, std::string stats = "") {
    std::vector<std::string> argv = {STREAMREC_BINARY, "learn", "--stats-file", stats.empty() ? stats_file() : stats};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<Subprocess>(argv, env(), "", dir_ + "/learn-" + std::to_string(learners_++) + ".log");
  }
  std::string stats_file() const { return dir_ + "/stats.json"; }

  // Sends raw messages with kcat, keyed by `keys` (same length), in one run.
  void produce_with_kcat(const std::vector<std::string>& keys, const std::vector<std::string>& payloads,
                         const std::string& topic = "events") {
    std::string file = dir_ + "/kcat-input-" + std::to_string(batches_++);
    {
      std::ofstream out(file, std::ios::binary);
      for (size_t i = 0; i < payloads.size(); ++i) out << keys[i] << '\t' << payloads[i] << '\n';
    }
    int rc = -1;
    std::string output = run_shell("kcat -P -b " + broker_.bootstrap_servers() + " -t " + topic +
                                       " -K '\t' -z lz4 -X queue.buffering.max.messages=200000 -l " + file + " 2>&1",
                                   &rc);
    ASSERT_EQ(rc, 0) << output;
  }

  void produce_events(const std::vector<Event>& events) {
    std::vector<std::string> keys, payloads;
    for (const Event& e : events) {
      keys.push_back(e.user_id);
      payloads.push_back(encode_event(e));
      expected_.add(e);
    }
    produce_with_kcat(keys, payloads);
  }

  // Sum of every counter of every expected user, read from Redis.
  int64_t events_in_redis() {
    int64_t total = 0;
    for (auto& [user, c] : read_counts("sr:{u:", expected_.users)) total += c.impressions + c.clicks + c.purchases;
    return total;
  }

  // events_in_redis() once Redis is done with what a killed learner sent
  // before it died: two reads 200 ms apart agree.
  int64_t settled_events_in_redis() {
    int64_t before = events_in_redis();
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      int64_t now = events_in_redis();
      if (now == before) return now;
      before = now;
    }
  }

  std::map<std::string, Counts> read_counts(const std::string& key_start, const std::map<std::string, Counts>& ids) {
    for (auto& [id, expected] : ids)
      redis_conn_->append({"HMGET", key_start + id + "}:f", "impressions", "clicks", "purchases"});
    auto replies = redis_conn_->read_replies();
    EXPECT_TRUE(replies.ok());
    std::map<std::string, Counts> out;
    if (!replies.ok()) return out;
    size_t i = 0;
    for (auto& [id, expected] : ids) {
      const redisReply* r = (*replies)[i++].get();
      auto field = [&](size_t f) -> int64_t {
        const redisReply* v = r->element[f];
        return v->type == REDIS_REPLY_STRING ? std::stoll(std::string(v->str, v->len)) : 0;
      };
      out[id] = Counts{field(0), field(1), field(2)};
    }
    return out;
  }

  // Asserts every expected user and item counter is exactly in Redis.
  void expect_exact_counters() {
    auto users = read_counts("sr:{u:", expected_.users);
    auto items = read_counts("sr:{i:", expected_.items);
    int user_mismatches = 0, item_mismatches = 0;
    for (auto& [id, c] : expected_.users)
      if (!(users[id] == c) && ++user_mismatches <= 5) ADD_FAILURE() << "user " << id << ": " << users[id] << " != " << c;
    for (auto& [id, c] : expected_.items)
      if (!(items[id] == c) && ++item_mismatches <= 5) ADD_FAILURE() << "item " << id << ": " << items[id] << " != " << c;
    EXPECT_EQ(user_mismatches, 0);
    EXPECT_EQ(item_mismatches, 0);
  }

  RedisServer redis_;
  KafkaBroker broker_;
  std::optional<RedisConnection> redis_conn_;
  ExpectedCounters expected_;
  std::string dir_;
  int learners_ = 0;
  int batches_ = 0;
};

}  // namespace streamrec::testing
