#include "feature_store/async_ranking_writer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "core/wall_clock.h"

namespace streamrec {
namespace {

// Users whose rankings may wait at once; submit() blocks beyond.
constexpr size_t kMaxWaiting = 10000;
// Rankings per pipelined round trip: the first of a burst does not wait for
// the last.
constexpr size_t kRankingsPerWrite = 64;
// After a failed write, the next try waits this long.
constexpr auto kRetryPause = std::chrono::milliseconds(100);

// The earlier of two request times, -1 being "not measured".
int64_t earlier(int64_t a, int64_t b) { return a < 0 ? b : b < 0 ? a : std::min(a, b); }

}  // namespace

AsyncRankingWriter::AsyncRankingWriter(std::string redis_url, int timeout_ms, std::string prefix, int64_t user_ttl_s)
    : keys_(std::move(prefix)), writer_(user_ttl_s), thread_("streamrec-ranks", std::move(redis_url), timeout_ms, kRetryPause) {
  thread_.start({[this] { return !waiting_.empty(); },
                 [this](bool) {
                   batch_.swap(waiting_);
                   slot_of_key_.clear();
                   writing_ = true;
                 },
                 [this](RedisLink& redis) { write(redis); }, [this](bool stopping) { return finish(stopping); }});
}

AsyncRankingWriter::~AsyncRankingWriter() { thread_.stop(); }

void AsyncRankingWriter::submit(std::vector<UserRanking>& rankings) {
  if (rankings.empty()) return;
  {
    std::unique_lock lock(thread_.mutex());
    thread_.changed().wait(lock, [&] { return waiting_.size() < kMaxWaiting; });
    for (UserRanking& r : rankings)
      add_locked({{keys_.user_rankings(r.user_id), std::move(r.items), keys_.user_features(r.user_id),
                   keys_.user_explanations(r.user_id), std::move(r.why)},
                  r.asked_at_kafka_ms},
                 /*older=*/false);
  }
  rankings.clear();
  thread_.changed().notify_all();
}

RankingStats AsyncRankingWriter::stats() const {
  std::lock_guard lock(stats_mutex_);
  return stats_;
}

void AsyncRankingWriter::add_locked(Pending&& r, bool older) {
  auto [slot, fresh] = slot_of_key_.try_emplace(r.ranking.key, waiting_.size());
  if (fresh) {
    waiting_.push_back(std::move(r));
    return;
  }
  Pending& there = waiting_[slot->second];
  there.asked_at_kafka_ms = earlier(there.asked_at_kafka_ms, r.asked_at_kafka_ms);
  if (!older) there.ranking = std::move(r.ranking);
}

void AsyncRankingWriter::write(RedisLink& redis) {
  // Leaves in batch_ the rankings Redis did not acknowledge.
  std::vector<Pending> failed;
  std::vector<Ranking> group;
  for (size_t first = 0; first < batch_.size(); first += kRankingsPerWrite) {
    const size_t last = std::min(batch_.size(), first + kRankingsPerWrite);
    group.clear();
    for (size_t i = first; i < last; ++i) group.push_back(std::move(batch_[i].ranking));
    Status status = redis.open();
    const auto started = std::chrono::steady_clock::now();
    if (status.ok()) status = writer_.write(redis.connection(), group);
    const double write_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    const int64_t acked = wall_clock_ms();
    std::lock_guard lock(stats_mutex_);
    if (!status.ok()) {
      ++stats_.ranking_write_failures;
      spdlog::warn("rankings not written, retrying: {}", status.message());
      for (size_t i = first; i < last; ++i) {
        batch_[i].ranking = std::move(group[i - first]);
        failed.push_back(std::move(batch_[i]));
      }
      continue;
    }
    stats_.rankings_written += static_cast<int64_t>(last - first);
    stats_.write_ms.record(write_ms);
    for (size_t i = first; i < last; ++i)
      if (batch_[i].asked_at_kafka_ms >= 0)
        stats_.freshness_ms.record(static_cast<double>(acked - batch_[i].asked_at_kafka_ms));
  }
  batch_.swap(failed);
}

void AsyncRankingWriter::erase_users(const std::vector<std::string>& user_ids) {
  std::unique_lock lock(thread_.mutex());
  // A failed write comes back into waiting_ at finish(): wait for it first.
  thread_.changed().wait(lock, [&] { return !writing_; });
  for (const std::string& user_id : user_ids) {
    auto slot = slot_of_key_.find(keys_.user_rankings(user_id));
    if (slot == slot_of_key_.end()) continue;
    const size_t gone = slot->second;
    slot_of_key_.erase(slot);
    if (gone != waiting_.size() - 1) {
      waiting_[gone] = std::move(waiting_.back());
      slot_of_key_[waiting_[gone].ranking.key] = gone;
    }
    waiting_.pop_back();
  }
}

bool AsyncRankingWriter::finish(bool stopping) {
  writing_ = false;
  // At the end, what fails is dropped.
  const bool retry = !batch_.empty() && !stopping;
  if (retry)
    for (Pending& r : batch_) add_locked(std::move(r), /*older=*/true);
  batch_.clear();
  return retry;
}

}  // namespace streamrec
