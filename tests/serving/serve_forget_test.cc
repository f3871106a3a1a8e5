// Forgetting a user (docs/serving.md, "DELETE /v1/users/{id}"): the DELETE
// needs the bearer token and a good id, answers after the broker
// acknowledged the user's tombstone, and deletes their keys at once; a
// learner that reads the tombstone drops the user from its state and their
// keys exactly once, and a learner restarted after a SIGKILL from a
// checkpoint taken before the tombstone forgets them again when it re-reads
// the tombstone, without undoing what the user did after it nor changing any
// counter. `streamrec forget USER` does the same.
#include <signal.h>

#include <filesystem>
#include <future>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "core/config.h"
#include "core/wall_clock.h"
#include "online_learner/features.h"
#include "online_learner/learner.h"
#include "pipeline/pipeline_checkpoint.h"
#include "pipeline/ranking_debouncer.h"
#include "ranking/ranker.h"
#include "serving/event_publisher.h"
#include "serving/redis_pool.h"
#include "serving/user_forgetter.h"
#include "tests/serving/serve_fixture.h"

namespace streamrec::testing {
namespace {

namespace http = boost::beast::http;

class ServeForgetTest : public ServeTest {
 protected:
  HttpAnswer forget(HttpClient& client, const std::string& user, const std::string& token = kToken) {
    std::map<std::string, std::string> headers;
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    return client.request(http::verb::delete_, "/v1/users/" + user, "", headers);
  }
  HttpAnswer post(HttpClient& client, const std::string& body) {
    return client.request(http::verb::post, "/v1/events", body, {{"Authorization", std::string("Bearer ") + kToken}});
  }
  // Every message of the events topic, as "key<TAB>value" lines.
  std::vector<std::string> events_in_kafka() {
    std::istringstream lines(run_shell("kcat -C -b " + broker_->bootstrap_servers() +
                                       " -t events -e -q -f '%k\\t%s\\n' 2>&1"));
    std::vector<std::string> out;
    for (std::string line; std::getline(lines, line);) out.push_back(line);
    return out;
  }
  void give_keys(const std::string& user) {
    redis({"HSET", keys_.user_features(user), "clicks", "3", "emb", float32_bytes({1, 2})});
    redis({"ZADD", keys_.user_rankings(user), "0.5", "i1"});
    redis({"HSET", keys_.user_explanations(user), "i1", "recent|i1||0|0.1|0.1|0.1|1|1"});
  }
  std::string user_keys(const std::string& user) { return redis_->cli("--scan --pattern 'sr:{u:" + user + "}*'"); }
  static std::string event(const std::string& id, const std::string& type, const std::string& user,
                           const std::string& item, int64_t ts) {
    return R"({"event_id":")" + id + R"(","type":")" + type + R"(","user_id":")" + user + R"(","item_id":")" + item +
           R"(","ts":)" + std::to_string(ts) + "}";
  }
};

// UserForgetter gives its Redis connection back to the pool before it calls
// `done`, which may end the pool (`streamrec forget` does at once): with a
// pool of one connection, `done` can lease it straight away. (Given back
// after `done`, the lease would write into a freed pool; that race shows
// under ThreadSanitizer, and here as a lease that does not come.)
TEST_F(ServeForgetTest, ThePoolHasItsConnectionBackWhenDoneIsCalled) {
  KafkaConfig kafka;
  kafka.bootstrap_servers = broker_->bootstrap_servers();
  auto publisher = serving::EventPublisher::create(kafka);
  ASSERT_TRUE(publisher.ok()) << publisher.error().message;
  serving::RedisPool pool(redis_->url(), 5000, 1);
  serving::UserForgetter forgetter(kafka.events_topic, keys_, **publisher, pool);
  give_keys("u1");

  // The lease is tried on a thread of its own, so that a lease still held
  // by the caller of `done` delays it instead of deadlocking the test.
  auto leased = std::make_shared<std::promise<bool>>();
  std::future<bool> leased_later = leased->get_future();
  std::promise<std::pair<serving::ForgetOutcome, bool>> finished;
  forgetter.forget("u1", [&](serving::ForgetOutcome outcome) {
    std::thread([&pool, leased] {
      const bool ok = pool.lease().ok();  // the lease is back before the test may end the pool
      leased->set_value(ok);
    }).detach();
    const bool at_once = leased_later.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
    finished.set_value({std::move(outcome), at_once});
  });
  auto [outcome, at_once] = finished.get_future().get();
  EXPECT_EQ(outcome.kafka_error, "");
  EXPECT_EQ(outcome.keys_deleted, 3);
  EXPECT_TRUE(at_once) << "the pool's one connection was still leased when done was called";
  EXPECT_TRUE(leased_later.get());  // the pool outlives the thread that leases from it
}

TEST_F(ServeForgetTest, DeleteNeedsTheTokenAndAGoodId) {
  HttpClient client(start_serve());
  give_keys("alice");
  auto missing = forget(client, "alice", "");
  EXPECT_EQ(missing.status, 401) << missing.body;
  EXPECT_EQ(missing.headers["WWW-Authenticate"], "Bearer");
  EXPECT_EQ(forget(client, "alice", "test-token-5f2d").status, 401);
  auto bad = forget(client, "al%zzice");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(std::string_view(bad.json()["error"]), "bad_id");
  EXPECT_EQ(forget(client, std::string(129, 'a')).status, 400);
  auto get = client.get("/v1/users/alice");
  EXPECT_EQ(get.status, 405) << get.body;
  EXPECT_EQ(get.headers["Allow"], "DELETE");
  // Nothing refused deleted anything.
  EXPECT_EQ(redis_->cli("HGET sr:{u:alice}:f clicks"), "3\n");
}

TEST_F(ServeForgetTest, WithoutATokenConfiguredForgettingIsRefused) {
  HttpClient client(start_serve({{"STREAMREC_SERVING_AUTH_TOKEN", ""}}));
  auto answer = forget(client, "alice", "anything");
  EXPECT_EQ(answer.status, 403) << answer.body;
  EXPECT_EQ(std::string_view(answer.json()["error"]), "writes_disabled");
}

TEST_F(ServeForgetTest, DeleteSendsTheTombstoneKeyedByUserThenDeletesEveryKeyOfTheUser) {
  HttpClient client(start_serve());
  give_keys("a/lice");
  give_keys("bob");
  auto answer = forget(client, "a%2Flice");
  ASSERT_EQ(answer.status, 200) << answer.body;
  auto json = answer.json();
  EXPECT_EQ(std::string_view(json["user_id"]), "a/lice");
  EXPECT_EQ(int64_t(json["keys_deleted"]), 3);
  const std::string event_id{std::string_view(json["event_id"])};
  EXPECT_EQ(event_id.find("lice"), std::string::npos) << "the tombstone's id must not name the user";
  EXPECT_EQ(user_keys("a/lice"), "");
  EXPECT_NE(user_keys("bob"), "");
  // Answered after the broker acknowledged it: the tombstone is there already.
  auto kafka = events_in_kafka();
  const std::string prefix = "a/lice\t{\"event_id\":\"" + event_id + "\",\"type\":\"forget\",\"user_id\":\"a/lice\",\"ts\":";
  EXPECT_EQ(std::count_if(kafka.begin(), kafka.end(), [&](auto& line) { return line.rfind(prefix, 0) == 0; }), 1);
}

TEST_F(ServeForgetTest, ATombstoneTheBrokerDoesNotAcknowledgeDeletesNothing) {
  HttpClient client(start_serve({{"STREAMREC_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:" + std::to_string(free_port())},
                                 {"STREAMREC_KAFKA_PROPERTIES_MESSAGE_TIMEOUT_MS", "1500"}}));
  give_keys("carol");
  auto answer = forget(client, "carol");
  EXPECT_EQ(answer.status, 503) << answer.body;
  EXPECT_EQ(std::string_view(answer.json()["error"]), "not_acknowledged");
  EXPECT_EQ(redis_->cli("HGET sr:{u:carol}:f clicks"), "3\n");
}

TEST_F(ServeForgetTest, TheCliForgetsAUserAsTheApiDoes) {
  give_keys("dave");
  give_keys("erin");
  int rc = -1;
  std::string out = run_shell("STREAMREC_KAFKA_BOOTSTRAP_SERVERS=" + broker_->bootstrap_servers() +
                                  " STREAMREC_REDIS_URL=" + redis_->url() + " " + STREAMREC_BINARY +
                                  " forget dave 2>" + dir_ + "/forget.log",
                              &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find(R"({"user_id":"dave","event_id":"forget-)"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("keys_deleted":3})"), std::string::npos) << out;
  EXPECT_EQ(user_keys("dave"), "");
  EXPECT_NE(user_keys("erin"), "");
  auto kafka = events_in_kafka();
  EXPECT_EQ(std::count_if(kafka.begin(), kafka.end(),
                          [&](auto& line) { return line.rfind("dave\t", 0) == 0 && line.find("\"type\":\"forget\"") != std::string::npos; }),
            1);
  std::string bad = run_shell(std::string(STREAMREC_BINARY) + " forget '' 2>&1", &rc);
  EXPECT_EQ(rc, 2) << bad;
}

// What a learner's checkpoint holds of a user: their real-time state, events
// of theirs not learned yet, their history in the ranker, their user_id
// embedding row.
struct CheckpointedUser {
  bool realtime = false;
  bool held = false;
  std::vector<std::string> recent;   // the debouncer's recent clicks
  std::vector<std::string> viewed;   // the ranker's history
  bool row = false;
};

std::map<std::string, CheckpointedUser> read_checkpoint(const std::string& path, const std::vector<std::string>& users) {
  Config config = std::move(load_config(ConfigSources{})).value();
  auto learner = std::move(learner::Learner::create(config.learner)).value();
  ranking::Ranker ranker(config.rankings, config.popularity, *learner);
  pipeline::RankingDebouncer debouncer(config.rankings, config.learner.recent_clicks);
  pipeline::StreamPositions positions;
  std::vector<learner::EventWithRecentClicks> held;
  auto restored = pipeline::restore_pipeline_checkpoint(path, positions, debouncer, held, ranker, *learner);
  EXPECT_TRUE(restored.ok() && !restored->empty()) << (restored.ok() ? "no checkpoint" : restored.error().message);
  std::map<std::string, CheckpointedUser> out;
  for (const std::string& user : users) {
    CheckpointedUser& u = out[user];
    debouncer.for_each_user([&](const std::string& id, const ranking::RealtimeUser& state) {
      if (id != user) return;
      u.realtime = true;
      u.recent.assign(state.recent.begin(), state.recent.end());
    });
    for (const learner::EventWithRecentClicks& e : held) u.held |= e.event.user_id == user;
    if (const ranking::UserHistory* h = ranker.histories().find(user))
      for (const auto& v : h->viewed) u.viewed.push_back(v.item_id);
    u.row = learner->table().find(learner::FeatureEncoder::user_key(user)) != learner::EmbeddingTable::kNoRow;
  }
  return out;
}

bool log_matches(const std::string& path, const std::regex& pattern) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (std::regex_search(line, pattern)) return true;
  return false;
}

bool log_has(const std::string& path, const std::string& text, int times = 1) {
  std::ifstream in(path);
  std::string all((std::istreambuf_iterator<char>(in)), {});
  int n = 0;
  for (size_t at = all.find(text); at != std::string::npos; at = all.find(text, at + 1)) ++n;
  return n >= times;
}

// Every counter in Redis: "sr:{u:<id>}:f" and "sr:{i:<id>}:f" -> "impressions clicks purchases".
std::map<std::string, std::string> counters(RedisServer& redis) {
  std::map<std::string, std::string> out;
  std::istringstream keys(redis.cli("--scan --pattern 'sr:{*}:f'"));
  for (std::string key; std::getline(keys, key);)
    if (!key.empty()) out[key] = redis.cli("HMGET '" + key + "' impressions clicks purchases");
  return out;
}

// The keys whose counters differ, joined by spaces.
std::string differences(const std::map<std::string, std::string>& a, const std::map<std::string, std::string>& b) {
  std::set<std::string> keys;
  for (auto& [k, v] : a) keys.insert(k);
  for (auto& [k, v] : b) keys.insert(k);
  std::string out;
  for (const std::string& k : keys) {
    auto x = a.find(k), y = b.find(k);
    if (x == a.end() || y == b.end() || x->second != y->second) out += (out.empty() ? "" : " ") + k;
  }
  return out;
}

// The same counters once Redis is done with what a killed learner sent before
// it died: two reads 200 ms apart agree.
std::map<std::string, std::string> settled_counters(RedisServer& redis) {
  auto before = counters(redis);
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto now = counters(redis);
    if (now == before) return now;
    before = std::move(now);
  }
}

// Issue 15: a learner forgets a user when it reads the tombstone, and so
// does a learner restarted after a SIGKILL from a checkpoint taken before
// the tombstone (as if its predecessor had died before its first checkpoint):
// it re-reads from where that checkpoint's state ends, not from the offsets
// its predecessor committed past the tombstone, so the user is gone from its
// state and its next checkpoint too, while the replay changes no counter.
TEST_F(ServeForgetTest, ALearnerRestartedAfterSigkillFromACheckpointBeforeTheTombstoneForgetsTheUserAndCountsExactly) {
  std::map<std::string, std::string> learn_env = env();
  learn_env["STREAMREC_CONSUMER_SESSION_TIMEOUT_MS"] = "6000";
  learn_env["STREAMREC_CHECKPOINT_PATH"] = dir_ + "/learner.ckpt";
  Subprocess producer({STREAMREC_BINARY, "produce", "--synthetic", "--impressions", "3000", "--users", "100",
                       "--items", "50"},
                      learn_env, "", dir_ + "/produce.log");
  ASSERT_EQ(producer.wait(std::chrono::seconds(120)), 0);
  HttpClient client(start_serve());
  // Two users who click three items: "gone" is forgotten, "back" is
  // forgotten and then clicks once more.
  const int64_t t0 = wall_clock_ms() - 60000;
  std::string body;
  for (const std::string user : {"gone", "back"})
    for (int i = 1; i <= 3; ++i) {
      const std::string item = "i" + std::to_string(i);
      body += event(user + "-imp-" + item, "impression", user, item, t0 + i * 10) + "\n";
      body += event(user + "-clk-" + item, "click", user, item, t0 + i * 10 + 5) + "\n";
    }
  ASSERT_EQ(post(client, body).status, 200);

  {
    Subprocess learner({STREAMREC_BINARY, "learn"}, learn_env, "", dir_ + "/learn-1.log");
    std::string last;
    ASSERT_TRUE(eventually(
        [&] {
          last = redis_->cli("HGET sr:{u:gone}:f clicks") + redis_->cli("HGET sr:{u:back}:f clicks") +
                 redis_->cli("EXISTS sr:{u:gone}:rec sr:{u:back}:rec");
          return last == "3\n3\n2\n";
        },
        std::chrono::seconds(90)))
        << last << " (see " << dir_ << "/learn-1.log)";
    ASSERT_EQ(learner.stop(), 0);  // writes the checkpoint, which holds both users
  }
  const std::string checkpoint = dir_ + "/learner.ckpt";
  auto before = read_checkpoint(checkpoint, {"gone", "back"});
  ASSERT_TRUE(before["gone"].realtime);
  ASSERT_EQ(before["gone"].viewed, (std::vector<std::string>{"i3", "i2", "i1"}));
  ASSERT_EQ(before["back"].recent, (std::vector<std::string>{"i3", "i2", "i1"}));
  std::filesystem::copy_file(checkpoint, dir_ + "/before-tombstone.ckpt");
  auto counted_first = counters(*redis_);
  ASSERT_GT(counted_first.size(), 50u);

  ASSERT_EQ(forget(client, "gone").status, 200);
  ASSERT_EQ(forget(client, "back").status, 200);
  EXPECT_EQ(user_keys("gone") + user_keys("back"), "");
  ASSERT_EQ(post(client, event("back-clk-again", "click", "back", "i4", wall_clock_ms() - 1000)).status, 200);

  {
    // Reads both tombstones and the click after them, commits, and is killed.
    Subprocess learner({STREAMREC_BINARY, "learn", "--status-interval", "0.5"}, learn_env, "", dir_ + "/learn-2.log");
    std::string last;
    ASSERT_TRUE(eventually(
        [&] {
          last = redis_->cli("HGET sr:{u:back}:f clicks") + redis_->cli("HGET sr:{u:back}:f recent");
          // Committed too: the group's offsets are past the tombstones.
          return last == "1\n[\"i4\"]\n" && log_has(dir_ + "/learn-2.log", "forgot a user", 2) &&
                 log_matches(dir_ + "/learn-2.log", std::regex(R"(learn status: .* [1-9][0-9]* commits, lag 0 events)"));
        },
        std::chrono::seconds(90)))
        << last << " (see " << dir_ << "/learn-2.log)";
    learner.signal(SIGKILL);
    ASSERT_EQ(learner.wait(std::chrono::seconds(20)), 128 + SIGKILL);
  }
  auto counted_second = settled_counters(*redis_);
  EXPECT_EQ(user_keys("gone"), "");
  EXPECT_EQ(counted_second["sr:{u:back}:f"], "\n1\n\n");  // the click after the tombstone, once
  // Everybody else's counters are those of the first run, but for the
  // click's item.
  for (auto* c : {&counted_first, &counted_second})
    for (const char* key : {"sr:{u:gone}:f", "sr:{u:back}:f"}) c->erase(key);
  EXPECT_EQ(differences(counted_first, counted_second), "sr:{i:i4}:f");

  // Restarted from the checkpoint taken before the tombstones: its state holds
  // both users, and the group's committed offsets are past the tombstones.
  std::filesystem::remove(checkpoint + ".prev");
  std::filesystem::copy_file(dir_ + "/before-tombstone.ckpt", checkpoint,
                             std::filesystem::copy_options::overwrite_existing);
  {
    Subprocess learner({STREAMREC_BINARY, "learn"}, learn_env, "", dir_ + "/learn-3.log");
    ASSERT_TRUE(eventually([&] { return log_has(dir_ + "/learn-3.log", "forgot a user", 2); },
                           std::chrono::seconds(120)))
        << "the restarted learner did not re-read the tombstones (see " << dir_ << "/learn-3.log)";
    // Replaying the tombstone deleted the ranking; the click after it (its
    // effects skipped) ranks the user again.
    ASSERT_TRUE(eventually([&] { return redis_->cli("EXISTS sr:{u:back}:rec") == "1\n"; }, std::chrono::seconds(90)))
        << "see " << dir_ << "/learn-3.log";
    ASSERT_EQ(learner.stop(), 0);  // its checkpoint
  }
  EXPECT_EQ(user_keys("gone"), "");
  EXPECT_EQ(redis_->cli("HGET sr:{u:back}:f clicks"), "1\n");  // the click after the tombstone, once
  EXPECT_EQ(redis_->cli("HGET sr:{u:back}:f impressions"), "\n");
  EXPECT_EQ(redis_->cli("HGET sr:{u:back}:f recent"), "[\"i4\"]\n");
  // The replay doubled nothing and lost nothing.
  auto counted_third = counters(*redis_);
  counted_third.erase("sr:{u:back}:f");
  EXPECT_EQ(differences(counted_second, counted_third), "");
  auto after = read_checkpoint(checkpoint, {"gone", "back"});
  EXPECT_FALSE(after["gone"].realtime);
  EXPECT_FALSE(after["gone"].held);
  EXPECT_TRUE(after["gone"].viewed.empty());
  EXPECT_FALSE(after["gone"].row);
  EXPECT_EQ(after["back"].recent, (std::vector<std::string>{"i4"}));
  EXPECT_EQ(after["back"].viewed, (std::vector<std::string>{"i4"}));
}

}  // namespace
}  // namespace streamrec::testing
