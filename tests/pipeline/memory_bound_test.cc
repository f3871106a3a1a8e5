// Bounded memory (docs/operations.md, "Memory"): a million distinct users
// and a million distinct items go through the learner's parts as
// `streamrec learn` runs them -- on the consumer's side the ranking
// debouncer and the event-time merger, on the model's side the Learner and
// the Ranker, users the debouncer evicts forgotten by the others -- and the
// process's peak RSS stays under the bound docs/operations.md gives for the
// configured bounds. The bounds are a tenth of the defaults (so a million of
// each is ten times the bound and eviction runs all along); the bound's
// formula is the one documented for any setting.
//
// Labelled "memory" (ctest -L memory runs it alone); about a minute of CPU.
// No timing assertions.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "core/config.h"
#include "online_learner/learner.h"
#include "pipeline/event_time_merger.h"
#include "pipeline/ranking_debouncer.h"
#include "ranking/ranker.h"

namespace streamrec::pipeline {
namespace {

// kB of a /proc/self/status field (VmRSS, VmHWM).
int64_t status_kb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  return -1;
}

// The documented bound (docs/operations.md, "Memory"), in MiB: a base for
// the binary, the model and the ranker's index, plus per entry of each
// bounded structure what it costs at most, measured with this test and
// rounded up.
double documented_bound_mib(const LearnerConfig& l, int64_t consumer_dedupe_window) {
  const double base_mib = 160;
  const double per_user = 3072;           // debouncer (with the bag) + ranker's and co-visit effects' histories
  const double per_item = 1024;           // catalog + per-item counts + popularity + ranker index
  const double per_row = 256;             // embedding row (dim 16): weights, optimizer state, key, index
  const double per_pending = 1024;        // pending impression (sample, scores, indexes) and an emitted one
  const double per_event_id = 32;         // a remembered event id (learner's and consumer's dedupe windows)
  const double per_held = 512;            // an event in the merger
  const double per_metric_pair = 8 * 2 * 6;  // 8 B, up to twice the cap, ~6 series
  const double samples = static_cast<double>(l.metrics_max_samples);
  return base_mib + (per_user * static_cast<double>(l.max_users) + per_item * static_cast<double>(l.max_items) +
                     per_row * static_cast<double>(l.max_embedding_rows) +
                     per_pending * static_cast<double>(l.max_pending) +
                     per_held * static_cast<double>(l.max_held_events) + per_metric_pair * samples +
                     per_event_id * static_cast<double>(l.dedupe_window + consumer_dedupe_window)) /
                        (1024.0 * 1024.0);
}

TEST(MemoryBound, AMillionDistinctUsersAndItemsKeepTheLearnerUnderItsDocumentedBound) {
  constexpr int kEvents = 1'000'000;  // one impression each: a new user and a new item
  Config config;
  LearnerConfig& l = config.learner;
  l.max_users = 100'000;
  l.max_items = 50'000;
  l.max_embedding_rows = 400'000;
  l.max_held_events = 20'000;
  l.max_pending = 100'000;
  l.metrics_max_samples = 100'000;
  l.dedupe_window = 100'000;
  // A small dense model: the structures under test do not depend on it, and
  // training is most of the test's time. Embeddings keep the default dim 16.
  l.architecture = "shared";
  l.expert_hidden = 16;
  l.tower_hidden = 8;
  auto created = learner::Learner::create(l);
  ASSERT_TRUE(created.ok()) << created.error().message;
  learner::Learner& learner = **created;
  ranking::Ranker ranker(config.rankings, config.popularity, learner);
  RankingDebouncer users(config.rankings, l.recent_clicks, l.max_users);
  EventTimeMerger merger(static_cast<size_t>(l.max_held_events));
  const TopicPartition partitions[] = {{"events", 0}, {"events", 1}, {"events", 2}};
  for (const TopicPartition& p : partitions) merger.expect(p);
  merger.expect({"events", 3});  // assigned, never delivers, never caught up: only the bound releases events

  std::vector<learner::EventWithRecentClicks> ready;
  std::vector<std::string> evicted;
  std::vector<RankRequest> due;
  const auto t0 = RankingDebouncer::Clock::now();
  const int64_t ts0 = 1'767'225'600'000;
  int64_t rankings = 0;
  const int64_t rss_start_kb = status_kb("VmRSS");
  int64_t rss_half_kb = -1;  // after half the stream: every bound reached long before
  for (int n = 0; n < kEvents; ++n) {
    if (n == kEvents / 2) rss_half_kb = status_kb("VmRSS");
    const std::string id = std::to_string(n);
    if (n % 4 == 0) learner.add_item(Item{"i" + id, "c" + std::to_string(n % 200), 1.0 + n % 50, true, ts0 + n});
    Event e;
    e.event_id = "e" + id;
    e.type = n % 4 == 1 ? EventType::kClick : EventType::kImpression;
    e.user_id = "u" + id;
    e.item_id = "i" + std::to_string(n - n % 4);  // an item of the catalog, shown and clicked by new users
    e.ts_ms = ts0 + 10LL * n;
    e.request_id = "r" + id;
    e.context = {{"device", n % 2 ? "ios" : "android", false}, {"page", "home", false}};
    // Consumer's side.
    learner::RecentClicks recent_clicks_before;
    users.observe(e, 0, e.ts_ms, t0, &recent_clicks_before);
    const TopicPartition& p = partitions[n % 3];
    merger.push(p, n / 3, e, std::move(recent_clicks_before));
    if (n % 1000 == 999) {
      users.take_evicted(evicted);
      for (const std::string& u : evicted) ranker.erase_user(u);
      evicted.clear();
      ranker.catalog_changed();
      // Model's side.
      merger.pop_ready(ready);
      for (learner::EventWithRecentClicks& r : ready) {
        learner.add_event(r.event, std::move(r.recent_clicks));
        ranker.add_event(r.event);
      }
      ready.clear();
      users.take_due(t0 + std::chrono::hours(1), due);
      if (n % 20'000 == 19'999 && !due.empty()) {  // now and then a ranking: the ranker's index is built
        const RankRequest& r = due.back();
        ranker.rank(r.user_id, r.recent_clicks, r.context, r.ts_ms);
        ++rankings;
      }
      due.clear();
    }
  }
  const size_t held_at_end = merger.held();
  merger.pop_all(ready);  // end of stream: the merger's last events learned too
  for (learner::EventWithRecentClicks& r : ready) {
    learner.add_event(r.event, std::move(r.recent_clicks));
    ranker.add_event(r.event);
  }
  const int64_t peak_kb = status_kb("VmHWM");
  const int64_t rss_kb = status_kb("VmRSS");
  const double bound_mib = documented_bound_mib(l, config.consumer.dedupe_window);
  std::printf("memory_bound: %d events, peak RSS %.0f MiB (start %.0f, half-way %.0f, end %.0f), documented bound %.0f MiB; "
              "users %zu (evicted %lu), histories %zu, catalog %zu (evicted %lu), item counts %zu, "
              "embedding rows %zu (evicted %lu), pending %zu, held %zu (released early %lu), %ld rankings\n",
              kEvents, peak_kb / 1024.0, rss_start_kb / 1024.0, rss_half_kb / 1024.0, rss_kb / 1024.0, bound_mib, users.users(),
              static_cast<unsigned long>(users.evicted_users()),
              ranker.histories().users(), learner.catalog().size(),
              static_cast<unsigned long>(learner.catalog().evicted_items()), learner.baseline().items(),
              learner.table().rows(), static_cast<unsigned long>(learner.table().evicted_total()),
              learner.joiner().pending(), held_at_end, static_cast<unsigned long>(merger.released_over_bound()),
              static_cast<long>(rankings));

  // Every structure at or under its bound, having evicted to stay there.
  EXPECT_EQ(users.users(), static_cast<size_t>(l.max_users));
  EXPECT_GT(users.evicted_users(), 0u);
  EXPECT_EQ(learner.recent_clicks().users(), 0u);  // the users' state keeps the bags, the learner none
  EXPECT_LE(ranker.histories().users(), static_cast<size_t>(l.max_users));
  EXPECT_EQ(learner.catalog().size(), static_cast<size_t>(l.max_items));
  EXPECT_GT(learner.catalog().evicted_items(), 0u);
  EXPECT_LE(learner.baseline().items(), static_cast<size_t>(l.max_items));
  EXPECT_GT(learner.baseline().evicted_items(), 0u);
  EXPECT_LE(learner.table().rows(), static_cast<size_t>(l.max_embedding_rows));
  EXPECT_GT(learner.table().evicted_total(), 0u);
  EXPECT_LE(held_at_end, static_cast<size_t>(l.max_held_events));
  EXPECT_GT(merger.released_over_bound(), 0u);
  EXPECT_LE(learner.joiner().pending(), static_cast<size_t>(l.max_pending));
  // The most recent user is kept everywhere.
  const std::string last_clicker = "u" + std::to_string(kEvents - 3);  // n % 4 == 1
  EXPECT_NE(ranker.histories().find(last_clicker), nullptr);
  // And the process within the documented bound, and flat once the bounds
  // are reached: the second half of the stream (half a million more users
  // and items) adds little (metric pairs up to their cap, allocator slack);
  // any unbounded per-user or per-item structure would add its share again.
  EXPECT_LT(peak_kb / 1024.0, bound_mib);
  EXPECT_LT(static_cast<double>(rss_kb), 1.10 * static_cast<double>(rss_half_kb));
}

}  // namespace
}  // namespace streamrec::pipeline
