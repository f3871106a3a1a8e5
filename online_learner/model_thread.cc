#include "online_learner/model_thread.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <iterator>

namespace streamrec::learner {
namespace {

using Clock = std::chrono::steady_clock;

// Events learned per round: about 3 ms of training, so a ranking request
// waits at most that long for the model.
constexpr size_t kEventsPerRound = 256;
// Events queued at most; beyond, learn() waits (and Kafka holds the rest).
constexpr size_t kMaxQueued = 200000;
// Users the model did not know are tried again at most this often, and at
// most this many per round.
constexpr auto kUnknownRetry = std::chrono::seconds(1);
constexpr size_t kUnknownPerRound = 32;
// Rankings computed, then written, at a time.
constexpr size_t kRankingsPerWrite = 64;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ModelThread::ModelThread(const Config& config, Learner& learner, Ranker& ranker)
    : config_(config), keys_(config.redis.prefix), learner_(learner), ranker_(ranker) {
  samples_learned_ = learner_.samples_learned();
  thread_ = std::thread([this] { run(); });
}

ModelThread::~ModelThread() {
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_changed_.notify_all();
  thread_.join();
}

void ModelThread::learn(std::vector<Event>& events) {
  if (events.empty()) return;
  {
    std::unique_lock lock(queue_mutex_);
    queue_changed_.wait(lock, [&] { return events_.size() < kMaxQueued; });
    events_.insert(events_.end(), std::make_move_iterator(events.begin()), std::make_move_iterator(events.end()));
  }
  events.clear();
  queue_changed_.notify_all();
}

void ModelThread::rank(RankRequest request) {
  {
    std::lock_guard lock(queue_mutex_);
    requests_.push_back(std::move(request));
  }
  queue_changed_.notify_all();
}

void ModelThread::wait_until_learned() {
  std::unique_lock lock(queue_mutex_);
  queue_changed_.wait(lock, [&] { return events_.empty() && !busy_; });
}

std::unique_lock<std::mutex> ModelThread::lock() const {
  others_waiting_.fetch_add(1, std::memory_order_acq_rel);
  std::unique_lock lock(model_mutex_);
  others_waiting_.fetch_sub(1, std::memory_order_acq_rel);
  return lock;
}

RankingStats ModelThread::ranking_stats() const {
  std::lock_guard lock(stats_mutex_);
  return stats_;
}

void ModelThread::run() {
  pthread_setname_np(pthread_self(), "streamrec-model");  // for top -H and perf
  std::vector<Event> events;
  std::vector<RankRequest> requests, written;
  std::vector<Ranking> rankings;
  for (;;) {
    {
      std::unique_lock queue_lock(queue_mutex_);
      auto work = [&] { return stopping_ || !events_.empty() || !requests_.empty(); };
      // Failed writes and unknown users are tried again after a pause, not
      // in a busy loop.
      if (retry_.empty() && unknown_.empty()) queue_changed_.wait(queue_lock, work);
      else queue_changed_.wait_for(queue_lock, std::chrono::milliseconds(100), work);
      // At the end, rankings still failing are dropped: they are recomputed
      // state, and Redis may be gone for good.
      if (stopping_ && events_.empty() && requests_.empty()) return;
      size_t n = std::min(events_.size(), kEventsPerRound);
      events.assign(std::make_move_iterator(events_.begin()), std::make_move_iterator(events_.begin() + n));
      events_.erase(events_.begin(), events_.begin() + n);
      requests.swap(requests_);
      busy_ = true;
    }
    queue_changed_.notify_all();  // room in the queue

    {
      auto model_lock = lock_after_others();
      for (const Event& event : events) {
        learner_.add_event(event);
        ranker_.add_event(event);
      }
      samples_learned_.store(learner_.samples_learned(), std::memory_order_relaxed);
    }
    events.clear();
    add_retries(requests);
    for (size_t first = 0; first < requests.size(); first += kRankingsPerWrite) {
      std::vector<RankRequest> group(std::make_move_iterator(requests.begin() + first),
                                     std::make_move_iterator(requests.begin() + std::min(requests.size(),
                                                                                         first + kRankingsPerWrite)));
      {
        auto model_lock = lock_after_others();
        rank_all(group, rankings, written);
      }
      write(rankings, written);
    }
    requests.clear();
    {
      std::lock_guard queue_lock(queue_mutex_);
      busy_ = false;
    }
    queue_changed_.notify_all();  // maybe everything is learned
  }
}

std::unique_lock<std::mutex> ModelThread::lock_after_others() {
  // The other thread goes first: a mutex would let this thread take the lock
  // back before a waiting thread even wakes up.
  while (others_waiting_.load(std::memory_order_acquire) > 0) std::this_thread::yield();
  return std::unique_lock(model_mutex_);
}

void ModelThread::add_retries(std::vector<RankRequest>& requests) {
  // After the fresh requests: failed writes, then a few unknown users.
  for (RankRequest& r : retry_) requests.push_back(std::move(r));
  retry_.clear();
  auto now = Clock::now();
  for (size_t budget = kUnknownPerRound; budget > 0 && !unknown_order_.empty();) {
    auto it = unknown_.find(unknown_order_.front());
    if (it != unknown_.end()) {
      if (now - it->second.tried < kUnknownRetry) break;
      requests.push_back(std::move(it->second.request));
      unknown_.erase(it);
      --budget;
    }
    unknown_order_.pop_front();
  }
}

void ModelThread::rank_all(std::vector<RankRequest>& requests, std::vector<Ranking>& rankings,
                           std::vector<RankRequest>& written) {
  rankings.clear();
  written.clear();
  int64_t skipped = 0;
  for (RankRequest& request : requests) {
    auto ranking = ranker_.rank(request.user_id, request.recent_clicks, request.context, request.ts_ms);
    if (ranking.empty()) {
      // Nothing to rank by yet; apps read sr:pop meanwhile. The ranking that
      // comes later answers the model, not this event: not measured.
      ++skipped;
      request.asked_at_kafka_ms = -1;
      std::string user = request.user_id;  // not the moved-from request's
      unknown_.insert_or_assign(user, Unknown{std::move(request), Clock::now()});
      unknown_order_.push_back(std::move(user));
      continue;
    }
    unknown_.erase(request.user_id);
    rankings.push_back({keys_.user_rankings(request.user_id), std::move(ranking)});
    written.push_back(std::move(request));
  }
  if (skipped) {
    std::lock_guard lock(stats_mutex_);
    stats_.rankings_skipped += skipped;
  }
}

void ModelThread::write(std::vector<Ranking>& rankings, std::vector<RankRequest>& written) {
  if (rankings.empty()) return;
  Status status;
  if (!redis_ || redis_->broken()) {
    redis_.reset();
    auto conn = RedisConnection::connect(config_.redis.url, static_cast<int>(config_.redis.timeout_ms));
    if (conn.ok()) redis_.emplace(std::move(conn).value());
    else status = Error{conn.error().message};
  }
  if (status.ok()) status = ranking_writer_.write(*redis_, rankings);
  int64_t acked = wall_ms();
  std::lock_guard lock(stats_mutex_);
  if (!status.ok()) {
    ++stats_.ranking_write_failures;
    spdlog::warn("rankings not written, retrying: {}", status.message());
    for (RankRequest& r : written) retry_.push_back(std::move(r));
    return;
  }
  stats_.rankings_written += static_cast<int64_t>(written.size());
  for (const RankRequest& r : written)
    if (r.asked_at_kafka_ms >= 0) stats_.freshness_ms.record(static_cast<double>(acked - r.asked_at_kafka_ms));
}

}  // namespace streamrec::learner
