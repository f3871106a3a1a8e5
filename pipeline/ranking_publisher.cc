#include "pipeline/ranking_publisher.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "core/stop_worker.h"
#include "core/wall_clock.h"

namespace streamrec::pipeline {
namespace {

// Users whose rankings may wait at once; publish() blocks beyond.
constexpr size_t kMaxWaiting = 10000;
// Rankings per pipelined round trip: the first of a burst does not wait for
// the last.
constexpr size_t kRankingsPerWrite = 64;
// After a failed write, the next try waits this long.
constexpr auto kRetryPause = std::chrono::milliseconds(100);

// The earlier of two request times, -1 being "not measured".
int64_t earlier(int64_t a, int64_t b) { return a < 0 ? b : b < 0 ? a : std::min(a, b); }

}  // namespace

RankingPublisher::RankingPublisher(const Config& config) : config_(config) {
  thread_ = std::thread([this] { run(); });
}

RankingPublisher::~RankingPublisher() { stop_worker(mutex_, stopping_, changed_, thread_); }

void RankingPublisher::publish(std::vector<PublishedRanking>& rankings) {
  if (rankings.empty()) return;
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return waiting_.size() < kMaxWaiting; });
    for (PublishedRanking& r : rankings) add_locked(std::move(r), /*older=*/false);
  }
  rankings.clear();
  changed_.notify_all();
}

RankingStats RankingPublisher::stats() const {
  std::lock_guard lock(stats_mutex_);
  return stats_;
}

void RankingPublisher::add_locked(PublishedRanking&& r, bool older) {
  auto [slot, fresh] = slot_of_key_.try_emplace(r.ranking.key, waiting_.size());
  if (fresh) {
    waiting_.push_back(std::move(r));
    return;
  }
  PublishedRanking& there = waiting_[slot->second];
  there.asked_at_kafka_ms = earlier(there.asked_at_kafka_ms, r.asked_at_kafka_ms);
  if (!older) there.ranking = std::move(r.ranking);
}

void RankingPublisher::run() {
  pthread_setname_np(pthread_self(), "streamrec-ranks");  // for top -H and perf
  std::vector<PublishedRanking> batch;
  for (;;) {
    bool stopping;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
      if (waiting_.empty()) return;  // stopping, and everything written
      batch.swap(waiting_);
      slot_of_key_.clear();
      stopping = stopping_;
    }
    changed_.notify_all();  // room for publish()
    write(batch);
    if (!batch.empty() && !stopping) {  // at the end, what fails is dropped
      std::unique_lock lock(mutex_);
      for (PublishedRanking& r : batch) add_locked(std::move(r), /*older=*/true);
      changed_.wait_for(lock, kRetryPause, [&] { return stopping_; });
    }
    batch.clear();
  }
}

void RankingPublisher::write(std::vector<PublishedRanking>& batch) {
  // Leaves in `batch` the rankings Redis did not acknowledge.
  std::vector<PublishedRanking> failed;
  std::vector<Ranking> group;
  for (size_t first = 0; first < batch.size(); first += kRankingsPerWrite) {
    const size_t last = std::min(batch.size(), first + kRankingsPerWrite);
    group.clear();
    for (size_t i = first; i < last; ++i) group.push_back(std::move(batch[i].ranking));
    Status status = connect_if_needed(redis_, config_.redis.url, static_cast<int>(config_.redis.timeout_ms));
    if (status.ok()) status = writer_.write(*redis_, group);
    const int64_t acked = wall_clock_ms();
    std::lock_guard lock(stats_mutex_);
    if (!status.ok()) {
      ++stats_.ranking_write_failures;
      spdlog::warn("rankings not written, retrying: {}", status.message());
      for (size_t i = first; i < last; ++i) {
        batch[i].ranking = std::move(group[i - first]);
        failed.push_back(std::move(batch[i]));
      }
      continue;
    }
    stats_.rankings_written += static_cast<int64_t>(last - first);
    for (size_t i = first; i < last; ++i)
      if (batch[i].asked_at_kafka_ms >= 0)
        stats_.freshness_ms.record(static_cast<double>(acked - batch[i].asked_at_kafka_ms));
  }
  batch.swap(failed);
}

}  // namespace streamrec::pipeline
