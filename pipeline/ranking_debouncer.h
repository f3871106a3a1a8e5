// Each user's real-time state (ranking::RealtimeUser: recent clicks, context,
// latest event time) and when their ranking is due: a click asks for a fresh
// ranking, an impression or purchase only when the ranking is older than
// rankings.impression_refresh_ms; a user asked for is ranked at most every
// rankings.refresh_interval_ms (debounced), and the ranking remembers the
// Kafka timestamp of the oldest event that asked for it, for freshness.
//
// A plain value: not thread-safe (the consumer's thread owns it). Never
// fails; users are kept for the life of the object (and in checkpoints).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/config.h"
#include "core/event.h"
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
  };

  RankingDebouncer(const RankingConfig& rankings, int64_t recent_clicks)
      : rankings_(rankings), recent_clicks_(recent_clicks) {}

  // Takes `event` (consumed with Kafka timestamp `kafka_ts_ms`) into its
  // user's state and marks the user asked for when the event asks for a
  // ranking. Returns the user's state when the event changed their recent
  // clicks (a click), nullptr otherwise.
  const ranking::RealtimeUser* observe(const Event& event, int64_t kafka_ts_ms, Clock::time_point now);
  // Appends to `out` the users asked for whose debounce interval has passed,
  // and forgets that they were asked for.
  void take_due(Clock::time_point now, std::vector<RankRequest>& out);

  // Drops the user's real-time state and any ranking they asked for; true
  // when there was some.
  bool erase(const std::string& user_id);
  // The checkpoint's view: every user's state, and a user's to restore into.
  const std::unordered_map<std::string, User>& users() const { return users_; }
  ranking::RealtimeUser& restore(const std::string& user_id) { return users_[user_id]; }

 private:
  const RankingConfig rankings_;
  const int64_t recent_clicks_;
  std::unordered_map<std::string, User> users_;
  std::vector<std::string> asked_;  // users with User::asked, in the order asked
};

}  // namespace streamrec::pipeline
