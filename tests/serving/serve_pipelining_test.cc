// `streamrec serve` reads recommendations through one pipelined Redis
// connection per HTTP thread: many clients at once each get their own
// user's answer, a Redis restarted under load is read again as soon as it
// is back, and a Redis that stops answering gets a 503 after
// redis.timeout_ms instead of holding the readers.
#include <atomic>
#include <thread>

#include "tests/serving/serve_fixture.h"

namespace streamrec::testing {
namespace {

// Each user's ranking holds items only that user has: an answer that went to
// the wrong client shows at once.
void seed_own_rankings(RedisConnection& redis, const RedisKeys& keys, int users) {
  for (int u = 0; u < users; ++u) {
    const std::string user = "user-" + std::to_string(u);
    for (int i = 0; i < 3; ++i) {
      redis.append({"ZADD", keys.user_rankings(user), std::to_string(3 - i), user + "-item-" + std::to_string(i)});
    }
  }
  auto replies = redis.read_replies();
  ASSERT_TRUE(replies.ok()) << replies.error().message;
}

// The answer is `user`'s own ranking, best first.
::testing::AssertionResult is_own_ranking(HttpAnswer& answer, const std::string& user) {
  if (answer.status != 200) return ::testing::AssertionFailure() << answer.status << " " << answer.body;
  auto json = answer.json();
  if (std::string_view(json["user_id"]) != user || std::string_view(json["source"]) != "personal")
    return ::testing::AssertionFailure() << "asked for " << user << ", got " << answer.body;
  int i = 0;
  for (simdjson::dom::element item : json["items"].get_array()) {
    if (std::string_view(item["item_id"]) != user + "-item-" + std::to_string(i++))
      return ::testing::AssertionFailure() << "asked for " << user << ", got " << answer.body;
  }
  if (i != 3) return ::testing::AssertionFailure() << "asked for " << user << ", got " << answer.body;
  return ::testing::AssertionSuccess();
}

TEST_F(ServeTest, ManyKeepAliveClientsAtOnceEachGetTheirOwnUsersAnswer) {
  constexpr int kClients = 24, kReads = 60;
  seed_own_rankings(*redis_conn_, keys_, kClients);
  const int port = start_serve({}, {"--set", "serving.threads=2"});
  std::atomic<int> right{0}, wrong{0};
  std::string first_wrong;
  std::mutex mutex;
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      HttpClient client(port);
      const std::string user = "user-" + std::to_string(c);
      for (int r = 0; r < kReads; ++r) {
        // Every other read asks with explain=true: the script's longer answer in between.
        HttpAnswer answer = client.get("/v1/users/" + user + "/recommendations?k=3" + (r % 2 ? "&explain=true" : ""));
        if (auto ok = is_own_ranking(answer, user)) {
          ++right;
        } else if (wrong++ == 0) {
          std::lock_guard lock(mutex);
          first_wrong = ok.message();
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(wrong.load(), 0) << first_wrong;
  EXPECT_EQ(right.load(), kClients * kReads);
}

TEST_F(ServeTest, ARedisRestartedUnderLoadIsReadAgainOnceItIsBack) {
  constexpr int kClients = 8;
  seed_own_rankings(*redis_conn_, keys_, kClients);
  const int port = start_serve({}, {"--set", "serving.threads=2"});
  std::atomic<bool> stop{false};
  std::atomic<int> unexpected{0};
  std::vector<std::atomic<int>> own_after_restart(kClients);
  std::atomic<bool> restarted{false};
  std::string first_unexpected;
  std::mutex mutex;
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      HttpClient client(port);
      const std::string user = "user-" + std::to_string(c);
      while (!stop) {
        const bool after = restarted;
        HttpAnswer answer = client.get("/v1/users/" + user + "/recommendations?k=3");
        if (answer.status == 503 && answer.body.find("\"redis_unavailable\"") != std::string::npos) continue;
        if (answer.status == 200 && std::string_view(answer.json()["user_id"]) == user) {
          if (after && is_own_ranking(answer, user)) ++own_after_restart[c];
          continue;
        }
        if (unexpected++ == 0) {
          std::lock_guard lock(mutex);
          first_unexpected = std::to_string(answer.status) + " " + answer.body;
        }
      }
    });
  }
  // Reads under way, then Redis crashes (every connection breaks, its data
  // is gone) and comes back on the same port.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  redis_->stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  redis_->start();
  auto fresh = RedisConnection::connect(redis_->url(), 5000);
  ASSERT_TRUE(fresh.ok()) << fresh.error().message;
  seed_own_rankings(*fresh, keys_, kClients);
  restarted = true;
  const bool every_client_reads_again = eventually(
      [&] {
        for (auto& n : own_after_restart)
          if (n < 3) return false;
        return true;
      },
      std::chrono::seconds(60));
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_TRUE(every_client_reads_again) << serve_log();
  EXPECT_EQ(unexpected.load(), 0) << first_unexpected;
  redis_conn_.emplace(std::move(fresh).value());
}

TEST_F(ServeTest, ARedisThatStopsAnsweringGets503AfterTheTimeoutThenServesAgain) {
  seed_own_rankings(*redis_conn_, keys_, 1);
  HttpClient client(start_serve({{"STREAMREC_REDIS_TIMEOUT_MS", "300"}}, {"--set", "serving.threads=1"}));
  HttpAnswer first = client.get("/v1/users/user-0/recommendations?k=3");
  ASSERT_TRUE(is_own_ranking(first, "user-0"));
  // Redis busy for 8 s (DEBUG SLEEP blocks the server): a read must not
  // wait for it.
  std::thread sleeper([&] { redis_->cli("DEBUG SLEEP 8"); });
  const bool asleep = eventually(
      [&] {
        auto probe = RedisConnection::connect(redis_->url(), 100);
        return !probe.ok() || !probe->command({"PING"}).ok();
      },
      std::chrono::seconds(5));
  HttpAnswer stalled = client.get("/v1/users/user-0/recommendations?k=3");
  sleeper.join();
  ASSERT_TRUE(asleep);
  EXPECT_EQ(stalled.status, 503) << stalled.body;
  EXPECT_NE(stalled.body.find("no reply within 300 ms"), std::string::npos) << stalled.body;
  EXPECT_TRUE(eventually(
      [&] {
        HttpAnswer answer = client.get("/v1/users/user-0/recommendations?k=3");
        return bool(is_own_ranking(answer, "user-0"));
      },
      std::chrono::seconds(30)));
}

}  // namespace
}  // namespace streamrec::testing
