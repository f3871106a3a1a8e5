// Co-visitation counts in Redis (sr:{i:<id>}:cv) are exact under replay:
// `streamrec learn` with a checkpoint is killed mid-stream and restarted,
// so Kafka re-delivers clicks whose co-visits are already in Redis, and
// producer retries (the same event_id again) come on top. Every item's
// co-visits must equal a brute-force count over the events sent once (the
// keys stay below rankings.covisit_redis_max_members, which is on). With a
// bound they reach, every key stays within it and its slack, and no count
// exceeds the brute-force one.
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "core/config.h"
#include "feature_store/idempotent_writer.h"
#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

constexpr size_t kWindowItems = 5;          // rankings.covisit_window_items (default)
constexpr int64_t kWindowMs = 3600 * 1000;  // rankings.covisit_window_s (default)

// item -> neighbour -> co-visits, by the rule of ranking/covisitation.h,
// recounted from each user's whole click list.
using CoVisits = std::map<std::string, std::map<std::string, int64_t>>;

CoVisits brute_force_covisits(const std::vector<Event>& events) {
  std::map<std::string, std::vector<const Event*>> clicks;  // per user, in stream order
  CoVisits counts;
  for (const Event& e : events) {
    if (e.type != EventType::kClick) continue;
    std::vector<const Event*>& before = clicks[e.user_id];
    // The user's distinct items newest first, each with its latest view.
    std::vector<std::pair<std::string, int64_t>> distinct;
    for (auto it = before.rbegin(); it != before.rend() && distinct.size() < kWindowItems; ++it) {
      bool seen = std::any_of(distinct.begin(), distinct.end(), [&](auto& d) { return d.first == (*it)->item_id; });
      if (!seen) distinct.emplace_back((*it)->item_id, (*it)->ts_ms);
    }
    for (auto& [item, ts] : distinct) {
      if (item == e.item_id || e.ts_ms - ts > kWindowMs) continue;
      ++counts[item][e.item_id];
      ++counts[e.item_id][item];
    }
    before.push_back(&e);
  }
  return counts;
}

class CoVisitRedisTest : public PipelineTest {
 protected:
  // Every sr:{i:<id>}:cv of the items in `items`, read back.
  CoVisits read_covisits(const std::set<std::string>& items) {
    for (const std::string& item : items) redis_conn_->append({"ZRANGE", "sr:{i:" + item + "}:cv", "0", "-1", "WITHSCORES"});
    auto replies = redis_conn_->read_replies();
    EXPECT_TRUE(replies.ok());
    CoVisits out;
    if (!replies.ok()) return out;
    size_t i = 0;
    for (const std::string& item : items) {
      const redisReply* r = (*replies)[i++].get();
      for (size_t k = 0; k + 1 < r->elements; k += 2)
        out[item][std::string(r->element[k]->str, r->element[k]->len)] =
            std::stoll(std::string(r->element[k + 1]->str, r->element[k + 1]->len));
    }
    return out;
  }
};

TEST_F(CoVisitRedisTest, CountsAreExactAfterAKillARestartFromTheCheckpointAndProducerRetries) {
  // Clicks only: every event co-visits. 600 users, 90 items, 10 ms apart
  // (all within the hour's window): 100 clicks per user.
  std::vector<Event> events = make_events(60000, 600, 90);
  for (Event& e : events) {
    e.type = EventType::kClick;
    e.value.reset();
  }
  std::set<std::string> items;
  for (const Event& e : events) items.insert(e.item_id);
  const CoVisits expected = brute_force_covisits(events);
  ASSERT_GT(expected.size(), 80u);
  // The default bound is on, and never reached here: the counts stay exact.
  for (auto& [item, neighbours] : expected)
    ASSERT_LE(static_cast<int64_t>(neighbours.size()), RankingConfig{}.covisit_redis_max_members) << item;

  const std::vector<std::string> settings = {"--set", "checkpoint.interval_s=1", "--set", "redis.write_interval_ms=100",
                                             "--set", "consumer.batch_max_messages=500", "--checkpoint",
                                             dir_ + "/learner.ckpt"};
  auto first = start_learner(settings, dir_ + "/first-stats.json");
  // The first half, then (once a checkpoint holds every partition) the
  // second, and the kill a little way into it: the kill comes mid-stream
  // however fast the learner is.
  const size_t half = events.size() / 2;
  produce_events(std::vector<Event>(events.begin(), events.begin() + static_cast<std::ptrdiff_t>(half)));
  ASSERT_TRUE(eventually([&] { return events_in_redis() >= expected_.events / 2; }, std::chrono::seconds(120)));
  // A checkpoint of every partition: one written before the learner saw
  // some partition would restart that partition at its committed offset,
  // past events the restored state never saw (docs/redis-keys.md).
  ASSERT_TRUE(eventually(
      [&] {
        std::ifstream log(dir_ + "/learn-0.log");
        std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
        return text.find("(6 partitions)") != std::string::npos;
      },
      std::chrono::seconds(20)));
  produce_events(std::vector<Event>(events.begin() + static_cast<std::ptrdiff_t>(half), events.end()));
  ASSERT_TRUE(eventually([&] { return events_in_redis() >= expected_.events * 11 / 20; }, std::chrono::seconds(120)));
  first->signal(SIGKILL);
  ASSERT_EQ(first->wait(std::chrono::seconds(10)), 128 + SIGKILL);
  const int64_t applied_at_kill = settled_events_in_redis();
  ASSERT_LT(applied_at_kill, expected_.events) << "the stream ended before the kill; make it longer";

  // Producer retries of 200 clicks already consumed: dropped as duplicates.
  std::vector<std::string> keys, payloads;
  for (size_t i = 0; i < 200; ++i) {
    keys.push_back(events[i * 7].user_id);
    payloads.push_back(encode_event(events[i * 7]));
  }
  produce_with_kcat(keys, payloads);

  std::vector<std::string> again = settings;
  again.insert(again.end(), {"--stop-after-idle", "3"});
  auto second = start_learner(again);
  ASSERT_EQ(second->wait(std::chrono::seconds(180)), 0);
  expect_exact_counters();
  EXPECT_GT(stats_number(stats_file(), "messages"), static_cast<double>(expected_.events - applied_at_kill + 200))
      << "nothing was re-delivered, so the test did not exercise the replay";

  const CoVisits in_redis = read_covisits(items);
  int mismatches = 0;
  int64_t total = 0;
  for (const std::string& item : items) {
    auto want = expected.count(item) ? expected.at(item) : std::map<std::string, int64_t>{};
    auto got = in_redis.count(item) ? in_redis.at(item) : std::map<std::string, int64_t>{};
    for (auto& [neighbour, n] : want) total += n;
    if (got != want && ++mismatches <= 5) {
      for (auto& [neighbour, n] : want)
        if (got[neighbour] != n) {
          ADD_FAILURE() << "item " << item << " neighbour " << neighbour << ": " << got[neighbour] << " != " << n;
          break;
        }
      if (got.size() != want.size()) ADD_FAILURE() << "item " << item << ": " << got.size() << " neighbours, not " << want.size();
    }
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_GT(total, 100000) << "too few co-visits to mean anything";
}

TEST_F(CoVisitRedisTest, ABoundKeepsEveryKeyWithinItAndItsSlackWithoutOverCounting) {
  // Clicks only, 200 users, each clicking 60 of 90 items at random: every
  // item co-visits most others, far more than the bound.
  std::vector<Event> events = make_events(12000, 200, 90);
  std::mt19937 random(7);
  for (Event& e : events) {
    e.type = EventType::kClick;
    e.value.reset();
    e.item_id = "i" + std::to_string(random() % 90);
  }
  std::set<std::string> items;
  for (const Event& e : events) items.insert(e.item_id);
  const CoVisits expected = brute_force_covisits(events);
  constexpr int64_t kBound = 10;
  const int64_t most = IdempotentWriter::zset_trim_above(kBound);  // 12

  produce_events(events);
  auto learner = start_learner({"--set", "rankings.covisit_redis_max_members=" + std::to_string(kBound), "--set",
                                "redis.write_interval_ms=100", "--set", "consumer.batch_max_messages=500",
                                "--stop-after-idle", "3"});
  ASSERT_EQ(learner->wait(std::chrono::seconds(180)), 0);
  expect_exact_counters();

  const CoVisits in_redis = read_covisits(items);
  int trimmed_items = 0;
  for (const std::string& item : items) {
    auto want = expected.count(item) ? expected.at(item) : std::map<std::string, int64_t>{};
    auto got = in_redis.count(item) ? in_redis.at(item) : std::map<std::string, int64_t>{};
    const auto neighbours = static_cast<int64_t>(want.size());
    if (neighbours > most) ++trimmed_items;
    EXPECT_LE(static_cast<int64_t>(got.size()), most) << item;
    // Trimmed down to the bound, then only growing; never trimmed: all of them.
    EXPECT_GE(static_cast<int64_t>(got.size()), std::min(neighbours, kBound)) << item;
    for (auto& [neighbour, n] : got) {
      ASSERT_TRUE(want.count(neighbour)) << item << " co-visited with " << neighbour << " in Redis only";
      EXPECT_LE(n, want.at(neighbour)) << item << " neighbour " << neighbour;
      if (neighbours <= most) {
        EXPECT_EQ(n, want.at(neighbour)) << item << " (never trimmed) neighbour " << neighbour;
      }
    }
  }
  EXPECT_GT(trimmed_items, 80) << "the bound was hardly reached: the test means little";
}

}  // namespace
}  // namespace streamrec::testing
