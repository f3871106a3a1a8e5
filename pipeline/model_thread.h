// The model's own thread: it learns the events it is given, in order, and
// ranks the users it is asked to, writing their rankings to Redis.
// A ranking is computed after the events queued before it was asked.
//
// Ownership and threads: it uses a Learner and a Ranker it does not own
// (both must outlive it) and owns the AsyncRankingWriter that writes its
// rankings. Each round it takes a few hundred queued events and every
// ranking request, holds the learner and ranker while it learns, then while
// it ranks each group of 64 requests, and hands each group's rankings to the
// writer. Any other thread that touches the Learner or the Ranker holds
// lock() while it does; the model thread steps aside between rounds and
// groups when someone waits. learn() and rank() may be called from one other
// thread.
//
// Errors: a ranking write that Redis does not acknowledge is counted and
// tried again by the writer. A user the model knows nothing of yet gets
// no ranking (apps read sr:pop); such users are ranked again, a few per
// round and each at most every second, until it does, and all of them once
// more when the thread stops, after the last events are learned.
//
// Behind: a thread that has worked for a second without waiting for work
// is behind the events. Until it next waits, while events are queued,
// rankings get at most half its time and learning the rest, so that it
// learns faster than events come and catches up; the requests that do not
// fit wait in its queue, oldest first (the caller keeps the queue short,
// rankings_queued(), and holds further requests where they can merge).
// Without that share, a stream with many clicks
// kept a thread that fell behind ranking every click and falling further
// behind, until the broker trimmed what it had not read.
//
// Why a thread of its own: training and ranking are the two costs that need
// the model; the consumer's thread keeps decoding, writing effects and
// keeping real-time state meanwhile, on the other core. Redis is a third
// thread's business (AsyncRankingWriter), so neither waits for it.
//
// Freshness is measured per ranking acknowledged by Redis: from the Kafka
// timestamp of the oldest event that asked for it, for users the model knew
// when they asked.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/config.h"
#include "core/event.h"
#include "online_learner/learner.h"
#include "ranking/ranker.h"
#include "pipeline/rank_request.h"
#include "feature_store/async_ranking_writer.h"

namespace streamrec::pipeline {

class ModelThread {
 public:
  ModelThread(const Config& config, learner::Learner& learner, ranking::Ranker& ranker);
  // Learns and ranks what is queued, tries the users it did not know once
  // more, then stops the thread.
  ~ModelThread();
  ModelThread(const ModelThread&) = delete;
  ModelThread& operator=(const ModelThread&) = delete;

  // Queues `events` (moved from), each with its user's recent clicks just
  // before it, to be learned in this order; waits while the queue is full.
  void learn(std::vector<learner::EventWithRecentClicks>& events);
  // Queues a ranking. It is computed once every event queued before it is
  // learned, so it answers them (a user's first click makes their first
  // ranking, not "unknown user"), however long the event queue.
  void rank(RankRequest request);
  // Whether the thread is behind (above): it has worked for a second
  // without waiting for work. Any thread.
  bool behind() const;
  // Ranking requests queued and not yet ranked.
  size_t rankings_queued();
  // Runs `task` on the model's thread, holding the model lock, once every
  // event queued before this call is learned and before any event queued
  // after it: the Learner and the Ranker as of exactly those events, while
  // the caller goes on queueing (a checkpoint taken without stopping the
  // consumer). Tasks run in the order given, also when the thread stops.
  void at_this_point(std::function<void()> task);
  // Waits until every event queued so far is learned and every task given
  // to at_this_point() has run.
  void wait_until_learned();
  // Forgets `user_id` everywhere the model's side keeps it: waits until
  // everything queued is learned and the round in progress is done, drops
  // the user's queued ranking requests and retries, has the Learner and the
  // Ranker forget the user (Learner::forget_user, Ranker::erase_user), and
  // drops their ranking waiting for Redis after the write in flight. Once
  // it returns, no ranking of the user reaches Redis unless asked for again.
  // The caller must not queue the user's older events afterwards.
  void forget_user(const std::string& user_id) { forget_users({user_id}); }
  // The same for many users at once (one wait, one pass).
  void forget_users(const std::vector<std::string>& user_ids);

  // Holds the Learner and the Ranker for the calling thread.
  std::unique_lock<std::mutex> lock() const;
  // Samples learned so far (no lock needed).
  uint64_t samples_learned() const { return samples_learned_.load(std::memory_order_relaxed); }
  RankingStats ranking_stats() const;

 private:
  void run();
  // The model lock, for this thread, once no other thread waits for it.
  std::unique_lock<std::mutex> lock_after_others();
  // Appends the unknown users due to be tried again (`all`: every one).
  void add_retries(std::vector<RankRequest>& requests, bool all);
  // Puts requests [first, end) back at the head of the queue, in order.
  void put_back(std::vector<RankRequest>& requests, size_t first);
  // Ranks requests [first, last) (the model lock held) into `rankings`.
  void rank_all(std::vector<RankRequest>& requests, size_t first, size_t last,
                std::vector<UserRanking>& rankings);

  learner::Learner& learner_;
  ranking::Ranker& ranker_;
  const bool explain_;                       // rankings.explain
  std::vector<ranking::Explanation> why_;    // the model thread's scratch

  mutable std::mutex model_mutex_;  // the Learner and the Ranker
  mutable std::atomic<int> others_waiting_{0};
  std::atomic<uint64_t> samples_learned_{0};

  std::mutex queue_mutex_;
  std::condition_variable queue_changed_;
  std::deque<learner::EventWithRecentClicks> events_;
  uint64_t events_queued_ = 0;  // ever, by learn()
  uint64_t events_taken_ = 0;   // ever, by the model thread's rounds
  struct QueuedRequest {
    RankRequest request;
    uint64_t after_events;  // events_queued_ when asked: ranked once a round has taken them
  };
  std::deque<QueuedRequest> requests_;  // in the order asked, so after_events never decreases
  struct QueuedTask {
    std::function<void()> task;
    uint64_t after_events;  // events_queued_ when given: run once a round has learned them
  };
  std::deque<QueuedTask> tasks_;  // in the order given; a round takes no event past the first one's point
  bool busy_ = false;  // learning events taken from events_
  bool stopping_ = false;
  // Since when the thread has worked without waiting for work (steady
  // clock ticks); kWaiting while it waits.
  static constexpr int64_t kWaiting = INT64_MAX;
  std::atomic<int64_t> working_since_{kWaiting};

  // The model thread's own.
  // Users the model knew nothing of, tried again a few per round, each at
  // most every second, so a crowd of them never delays a fresh request.
  struct Unknown {
    RankRequest request;
    std::chrono::steady_clock::time_point tried;
  };
  // At most learner.max_users: beyond, the oldest tries are dropped (such a
  // user is ranked again at their next event).
  std::unordered_map<std::string, Unknown> unknown_;
  std::deque<std::string> unknown_order_;  // oldest try first; may name users ranked since
  const size_t max_unknown_;

  std::atomic<int64_t> rankings_skipped_{0};

  // Destroyed after thread_ stops: writes the last rankings.
  AsyncRankingWriter ranking_writer_;
  std::thread thread_;
};

}  // namespace streamrec::pipeline
