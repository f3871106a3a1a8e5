// Each user's real-time state (ranking::RealtimeUser: recent clicks, context,
// latest event time) and when their ranking is due: a click asks for a fresh
// ranking, an impression or purchase only when the ranking is older than
// rankings.impression_refresh_ms; a user asked for is ranked at most every
// rankings.refresh_interval_ms (debounced), and the ranking remembers the
// Kafka timestamp of the oldest event that asked for it, for freshness.
// While refreshes are shed (shed_refreshes(), set by the pipeline while the
// model's thread is behind), impressions and purchases ask for nothing: the
// model's time goes to the rankings clicks changed, and to catching up.
// Users asked for wait here, oldest first, until the model's thread has room
// for their ranking (take_due's `most`): a user's further clicks meanwhile
// merge into the one ranking, computed from their newest state.
//
// At most learner.max_users users are kept: beyond, the user whose last
// event is the oldest is evicted, and handed out by take_evicted() so that
// the caller forgets them everywhere else too.
//
// Each user also remembers the events partition of their latest event, so
// that a rebalance that takes partitions away can hand out the users they
// carried (take_users_of): their state belongs to the partition's new owner.
//
// A plain value: not thread-safe (the consumer's thread owns it). Never
// fails; users are kept in checkpoints, with their recency and partition.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <algorithm>
#include <cstddef>
#include <deque>
#include <vector>

#include "core/config.h"
#include "core/event.h"
#include "core/least_recent.h"
#include "pipeline/rank_request.h"
#include "ranking/realtime_user.h"

namespace streamrec::pipeline {

class RankingDebouncer {
 public:
  using Clock = std::chrono::steady_clock;

  // A user's real-time state, and whether and since when it waits for a
  // ranking (one map: one lookup per event).
  struct User : ranking::RealtimeUser {
    bool asked = false;
    int64_t oldest_asked_kafka_ms = -1;  // of the first event since the last ranking
    Clock::time_point last_ranked{};
    int32_t partition = -1;  // of the latest event; -1: not known (restored from an older checkpoint)
  };

  RankingDebouncer(const RankingConfig& rankings, int64_t recent_clicks, int64_t max_users = 1'000'000)
      : rankings_(rankings), recent_clicks_(recent_clicks), max_users_(static_cast<size_t>(std::max<int64_t>(1, max_users))) {}

  // Takes `event` (consumed from events partition `partition` with Kafka
  // timestamp `kafka_ts_ms`) into its user's state and marks the user asked
  // for when the event asks for a ranking. `recent_clicks_before`, if given, gets
  // the user's recent clicks as they were just before the event when the
  // learner needs them (learner::needs_recent_clicks), else nothing. Returns
  // the user's state when the event changed their recent clicks (a click),
  // nullptr otherwise.
  const ranking::RealtimeUser* observe(const Event& event, int32_t partition, int64_t kafka_ts_ms,
                                       Clock::time_point now, learner::RecentClicks* recent_clicks_before = nullptr);
  // Appends to `out` the users asked for whose debounce interval has passed,
  // at most `most` of them, the longest asked first, and forgets that they
  // were asked for; the rest keep their place.
  void take_due(Clock::time_point now, std::vector<RankRequest>& out, size_t most = SIZE_MAX);
  size_t asked() const { return asked_.size(); }  // users waiting for a ranking (some perhaps evicted)

  // While `shed` holds, impressions and purchases ask for no ranking, not
  // even a missing or old one; each that would have is counted.
  void shed_refreshes(bool shed) { shed_refreshes_ = shed; }
  uint64_t refreshes_shed() const { return refreshes_shed_; }  // since construction
  // Moves the ids of the users evicted since the last call to `out`.
  void take_evicted(std::vector<std::string>& out);
  // Forgets `user_id` (its state and any ranking it asked for); false when
  // it was not kept.
  bool erase(const std::string& user_id) { return users_.erase(user_id); }
  // Forgets every user whose latest event came from one of `partitions`
  // (events partitions), appending their ids to `out`.
  void take_users_of(const std::vector<int32_t>& partitions, std::vector<std::string>& out);
  size_t users() const { return users_.size(); }
  uint64_t evicted_users() const { return evicted_users_; }  // since construction

  // The checkpoint's view: f(id, const User&) for every user, least
  // recently active first; and a user's to restore into, in that order (the
  // newest last), which evicts beyond the bound.
  template <class F>
  void for_each_user(F f) const {
    users_.for_each_oldest_first([&](const std::string& id, const User& user) { f(id, user); });
  }
  User& restore(const std::string& user_id) { return touch(user_id); }

 private:
  // The user's state, now the most recent, evicting beyond max_users_.
  User& touch(const std::string& user_id);

  const RankingConfig rankings_;
  const int64_t recent_clicks_;
  const size_t max_users_;
  LeastRecentMap<std::string, User> users_;  // least recently active first
  std::deque<std::string> asked_;  // users with User::asked, in the order asked (evicted ones skipped)
  std::vector<std::string> evicted_;  // since the last take_evicted()
  uint64_t evicted_users_ = 0;
  bool shed_refreshes_ = false;
  uint64_t refreshes_shed_ = 0;
};

}  // namespace streamrec::pipeline
