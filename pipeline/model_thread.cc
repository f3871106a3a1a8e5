#include "pipeline/model_thread.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <iterator>

#include "core/stop_worker.h"

namespace streamrec::pipeline {

using learner::Learner;
using ranking::Ranker;

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
// Rankings computed at a time (the lock held), then handed to the writer.
constexpr size_t kRankingsPerGroup = 64;
// Working this long without waiting for work, the thread is behind; then
// rankings get at most this share of its time while events are queued.
constexpr auto kBehindAfter = std::chrono::seconds(1);
constexpr double kRankingShareBehind = 0.5;
// What learning earns the rankings while behind is banked up to this much,
// so that a long task (a checkpoint's serialization) or a slow round does
// not pay for a burst of rankings later.
constexpr auto kMostRankingCredit = std::chrono::milliseconds(50);

}  // namespace

ModelThread::ModelThread(const Config& config, Learner& learner, Ranker& ranker)
    : learner_(learner),
      ranker_(ranker),
      explain_(config.rankings.explain),
      max_unknown_(static_cast<size_t>(std::max<int64_t>(1, config.learner.max_users))),
      ranking_writer_(config.redis.url, static_cast<int>(config.redis.timeout_ms), config.redis.prefix,
                      config.redis.user_ttl_s) {
  samples_learned_ = learner_.samples_learned();
  thread_ = std::thread([this] { run(); });
}

ModelThread::~ModelThread() { stop_worker(queue_mutex_, stopping_, queue_changed_, thread_); }

void ModelThread::learn(std::vector<learner::EventWithRecentClicks>& events) {
  if (events.empty()) return;
  {
    std::unique_lock lock(queue_mutex_);
    queue_changed_.wait(lock, [&] { return events_.size() < kMaxQueued; });
    events_.insert(events_.end(), std::make_move_iterator(events.begin()), std::make_move_iterator(events.end()));
    events_queued_ += events.size();
  }
  events.clear();
  queue_changed_.notify_all();
}

void ModelThread::rank(RankRequest request) {
  {
    std::lock_guard lock(queue_mutex_);
    requests_.push_back(QueuedRequest{std::move(request), events_queued_});
  }
  queue_changed_.notify_all();
}

bool ModelThread::behind() const {
  const int64_t since = working_since_.load(std::memory_order_relaxed);
  return since != kWaiting && Clock::now().time_since_epoch().count() - since >= Clock::duration(kBehindAfter).count();
}

size_t ModelThread::rankings_queued() {
  std::lock_guard lock(queue_mutex_);
  return requests_.size();
}

void ModelThread::at_this_point(std::function<void()> task) {
  {
    std::lock_guard lock(queue_mutex_);
    tasks_.push_back(QueuedTask{std::move(task), events_queued_});
  }
  queue_changed_.notify_all();
}

void ModelThread::wait_until_learned() {
  std::unique_lock lock(queue_mutex_);
  queue_changed_.wait(lock, [&] { return events_.empty() && tasks_.empty() && !busy_; });
}

void ModelThread::forget_users(const std::vector<std::string>& user_ids) {
  if (user_ids.empty()) return;
  const std::unordered_set<std::string> users(user_ids.begin(), user_ids.end());
  // Holding the queue with nothing queued and no round in progress, this
  // thread has the model's thread idle: its own state (unknown_) may be
  // touched, and nothing it ranked is on its way to the writer.
  std::unique_lock queue_lock(queue_mutex_);
  // Tasks too: one queued before this call must see the users as they were.
  queue_changed_.wait(queue_lock, [&] { return events_.empty() && tasks_.empty() && !busy_; });
  std::erase_if(requests_, [&](const QueuedRequest& r) { return users.contains(r.request.user_id); });
  for (const std::string& id : user_ids) unknown_.erase(id);  // unknown_order_ may name it: skipped when not in unknown_
  {
    auto model_lock = lock();
    learner_.forget_users(users);
    for (const std::string& id : user_ids) ranker_.erase_user(id);
  }
  ranking_writer_.erase_users(user_ids);
}

std::unique_lock<std::mutex> ModelThread::lock() const {
  others_waiting_.fetch_add(1, std::memory_order_acq_rel);
  std::unique_lock lock(model_mutex_);
  others_waiting_.fetch_sub(1, std::memory_order_acq_rel);
  return lock;
}

RankingStats ModelThread::ranking_stats() const {
  RankingStats stats = ranking_writer_.stats();
  stats.rankings_skipped = rankings_skipped_.load(std::memory_order_relaxed);
  return stats;
}

void ModelThread::run() {
  pthread_setname_np(pthread_self(), "streamrec-model");  // for top -H and perf
  std::vector<learner::EventWithRecentClicks> events;
  std::vector<RankRequest> requests;
  std::vector<UserRanking> rankings;
  std::vector<std::function<void()>> due_tasks;
  bool last_round = false;  // stopping, everything learned: the unknown users' last try
  Clock::duration ranking_credit{};  // while limited: what rankings may still take
  for (;;) {
    bool limited;  // behind, with events queued beyond this round's
    {
      std::unique_lock queue_lock(queue_mutex_);
      auto work = [&] { return stopping_ || !events_.empty() || !requests_.empty() || !tasks_.empty(); };
      if (!work()) {
        working_since_.store(kWaiting, std::memory_order_relaxed);
        // Unknown users are tried again after a pause, not in a busy loop.
        if (unknown_.empty()) queue_changed_.wait(queue_lock, work);
        else queue_changed_.wait_for(queue_lock, std::chrono::milliseconds(100), work);
      }
      if (working_since_.load(std::memory_order_relaxed) == kWaiting)
        working_since_.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
      if (stopping_ && events_.empty() && requests_.empty() && tasks_.empty()) {
        // Every event is learned now: a user unknown when asked (say, whose
        // click came after the request) is tried once more, all of them,
        // before the thread ends, so that none is left without a ranking.
        if (last_round || unknown_.empty()) return;
        last_round = true;
      }
      size_t n = std::min(events_.size(), kEventsPerRound);
      // Not past the next task's point: it runs after this round's events.
      if (!tasks_.empty()) n = std::min<size_t>(n, tasks_.front().after_events - events_taken_);
      events.assign(std::make_move_iterator(events_.begin()), std::make_move_iterator(events_.begin() + n));
      events_.erase(events_.begin(), events_.begin() + n);
      events_taken_ += n;
      // Behind with events queued: rankings get their share of the time only.
      limited = !events_.empty() && behind();
      if (!limited) ranking_credit = {};
      // The requests whose events this round learns; the rest wait for a
      // later round (a round's events are few, so they do not wait long).
      while (!requests_.empty() && requests_.front().after_events <= events_taken_ &&
             (!limited || ranking_credit > Clock::duration::zero())) {
        requests.push_back(std::move(requests_.front().request));
        requests_.pop_front();
      }
      while (!tasks_.empty() && tasks_.front().after_events <= events_taken_) {
        due_tasks.push_back(std::move(tasks_.front().task));
        tasks_.pop_front();
      }
      busy_ = true;
    }
    queue_changed_.notify_all();  // room in the queue

    {
      auto model_lock = lock_after_others();
      const auto learning = Clock::now();
      for (learner::EventWithRecentClicks& e : events) {
        learner_.add_event(e.event, std::move(e.recent_clicks));
        ranker_.add_event(e.event);
      }
      if (limited) {
        const auto earned = std::chrono::duration_cast<Clock::duration>(
            (Clock::now() - learning) * (kRankingShareBehind / (1 - kRankingShareBehind)));
        ranking_credit = std::min<Clock::duration>(kMostRankingCredit, ranking_credit + earned);
      }
      samples_learned_.store(learner_.samples_learned(), std::memory_order_relaxed);
      for (auto& task : due_tasks) task();
    }
    events.clear();
    due_tasks.clear();
    // Without time to rank, the unknown users wait where they are (taken
    // out only to be put back, they would churn every round).
    if (!limited || ranking_credit > Clock::duration::zero()) add_retries(requests, /*all=*/last_round);
    for (size_t first = 0; first < requests.size(); first += kRankingsPerGroup) {
      if (limited && ranking_credit <= Clock::duration::zero()) {
        put_back(requests, first);
        break;
      }
      const auto ranking = Clock::now();
      {
        auto model_lock = lock_after_others();
        rank_all(requests, first, std::min(requests.size(), first + kRankingsPerGroup), rankings);
      }
      ranking_writer_.submit(rankings);
      if (limited) ranking_credit -= Clock::now() - ranking;
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

void ModelThread::put_back(std::vector<RankRequest>& requests, size_t first) {
  std::lock_guard queue_lock(queue_mutex_);
  // Their events are learned: they go first, and the order stays by after_events.
  for (size_t i = requests.size(); i-- > first;) requests_.push_front(QueuedRequest{std::move(requests[i]), events_taken_});
}

void ModelThread::add_retries(std::vector<RankRequest>& requests, bool all) {
  // After the fresh requests, a few unknown users.
  auto now = Clock::now();
  for (size_t budget = all ? SIZE_MAX : kUnknownPerRound; budget > 0 && !unknown_order_.empty();) {
    auto it = unknown_.find(unknown_order_.front());
    if (it != unknown_.end()) {
      if (!all && now - it->second.tried < kUnknownRetry) break;
      requests.push_back(std::move(it->second.request));
      unknown_.erase(it);
      --budget;
    }
    unknown_order_.pop_front();
  }
}

void ModelThread::rank_all(std::vector<RankRequest>& requests, size_t first, size_t last,
                           std::vector<UserRanking>& rankings) {
  rankings.clear();
  int64_t skipped = 0;
  for (size_t i = first; i < last; ++i) {
    RankRequest& request = requests[i];
    auto ranking = ranker_.rank(request.user_id, request.recent_clicks, request.context, request.ts_ms,
                                explain_ ? &why_ : nullptr);
    if (ranking.empty()) {
      // Nothing to rank by yet; apps read sr:pop meanwhile. The ranking that
      // comes later answers the model, not this event: not measured.
      ++skipped;
      request.asked_at_kafka_ms = -1;
      std::string user = request.user_id;  // not the moved-from request's
      unknown_.insert_or_assign(user, Unknown{std::move(request), Clock::now()});
      unknown_order_.push_back(std::move(user));
      while (unknown_order_.size() > max_unknown_) {
        unknown_.erase(unknown_order_.front());
        unknown_order_.pop_front();
      }
      continue;
    }
    unknown_.erase(request.user_id);
    UserRanking& written = rankings.emplace_back(UserRanking{request.user_id, std::move(ranking), request.asked_at_kafka_ms});
    for (const ranking::Explanation& e : why_) written.why.push_back(encode(e));
  }
  rankings_skipped_.fetch_add(skipped, std::memory_order_relaxed);
}

}  // namespace streamrec::pipeline
