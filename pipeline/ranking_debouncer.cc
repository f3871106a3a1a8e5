#include "pipeline/ranking_debouncer.h"

#include <utility>

namespace streamrec::pipeline {

const ranking::RealtimeUser* RankingDebouncer::observe(const Event& event, int64_t kafka_ts_ms, Clock::time_point now) {
  User& user = users_[event.user_id];
  const bool recent_changed = user.observe(event, recent_clicks_);
  // A click changes what the ranking is computed from (the recent clicks,
  // their categories): it asks for a fresh ranking. An impression (what the
  // app just showed) or a purchase (of an item clicked before) changes it
  // only through the model, which learns from them later: they ask only
  // when the ranking is missing or old (rankings.impression_refresh_ms).
  const bool asks_for_ranking = event.type == EventType::kClick ||
                                now - user.last_ranked >= std::chrono::milliseconds(rankings_.impression_refresh_ms);
  if (asks_for_ranking && !user.asked) {
    user.asked = true;
    user.oldest_asked_kafka_ms = kafka_ts_ms;
    asked_.push_back(event.user_id);
  }
  return recent_changed ? &user : nullptr;
}

bool RankingDebouncer::erase(const std::string& user_id) {
  auto it = users_.find(user_id);
  if (it == users_.end()) return false;
  if (it->second.asked) std::erase(asked_, user_id);
  users_.erase(it);
  return true;
}

void RankingDebouncer::take_due(Clock::time_point now, std::vector<RankRequest>& out) {
  if (asked_.empty()) return;
  const auto interval = std::chrono::milliseconds(rankings_.refresh_interval_ms);
  std::vector<std::string> waiting;
  for (const std::string& id : asked_) {
    User& user = users_[id];
    if (now - user.last_ranked < interval) {
      waiting.push_back(id);
      continue;
    }
    user.last_ranked = now;
    user.asked = false;
    out.push_back({id, std::vector<std::string>(user.recent.begin(), user.recent.end()), user.context,
                   user.last_ts_ms, user.oldest_asked_kafka_ms});
    user.oldest_asked_kafka_ms = -1;
  }
  asked_ = std::move(waiting);
}

}  // namespace streamrec::pipeline
