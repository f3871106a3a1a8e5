#include "pipeline/ranking_debouncer.h"

#include <algorithm>
#include <utility>

namespace streamrec::pipeline {

RankingDebouncer::User& RankingDebouncer::touch(const std::string& user_id) {
  User& user = users_.touch(user_id);
  while (users_.size() > max_users_) {  // never `user`: it is the most recent
    evicted_.push_back(users_.pop_least_recent().first);
    ++evicted_users_;
  }
  return user;
}

void RankingDebouncer::take_evicted(std::vector<std::string>& out) {
  out.insert(out.end(), std::make_move_iterator(evicted_.begin()), std::make_move_iterator(evicted_.end()));
  evicted_.clear();
}

const ranking::RealtimeUser* RankingDebouncer::observe(const Event& event, int32_t partition, int64_t kafka_ts_ms,
                                                      Clock::time_point now, learner::RecentClicks* recent_clicks_before) {
  User& user = touch(event.user_id);
  user.partition = partition;
  if (recent_clicks_before) {
    recent_clicks_before->clear();
    if (learner::needs_recent_clicks(event)) *recent_clicks_before = user.recent;
  }
  const bool recent_changed = user.observe(event, recent_clicks_);
  // A click changes what the ranking is computed from (the recent clicks,
  // their categories): it asks for a fresh ranking. An impression (what the
  // app just showed) or a purchase (of an item clicked before) changes it
  // only through the model, which learns from them later: they ask only
  // when the ranking is missing or old (rankings.impression_refresh_ms),
  // and not while refreshes are shed.
  const bool refresh_due = event.type != EventType::kClick &&
                           now - user.last_ranked >= std::chrono::milliseconds(rankings_.impression_refresh_ms);
  if (refresh_due && shed_refreshes_ && !user.asked) ++refreshes_shed_;
  const bool asks_for_ranking = event.type == EventType::kClick || (refresh_due && !shed_refreshes_);
  if (asks_for_ranking && !user.asked) {
    user.asked = true;
    user.oldest_asked_kafka_ms = kafka_ts_ms;
    asked_.push_back(event.user_id);
  }
  return recent_changed ? &user : nullptr;
}

void RankingDebouncer::take_users_of(const std::vector<int32_t>& partitions, std::vector<std::string>& out) {
  if (partitions.empty()) return;
  const size_t first = out.size();
  users_.for_each_oldest_first([&](const std::string& id, const User& user) {
    if (std::find(partitions.begin(), partitions.end(), user.partition) != partitions.end()) out.push_back(id);
  });
  for (size_t i = first; i < out.size(); ++i) users_.erase(out[i]);  // asked_ skips them (take_due)
}

void RankingDebouncer::take_due(Clock::time_point now, std::vector<RankRequest>& out, size_t most) {
  const auto interval = std::chrono::milliseconds(rankings_.refresh_interval_ms);
  std::vector<std::string> waiting;  // ranked within the interval: keep their place
  for (size_t taken = 0; taken < most && !asked_.empty();) {
    std::string id = std::move(asked_.front());
    asked_.pop_front();
    User* found = users_.find(id);
    if (!found || !found->asked) continue;  // evicted (and perhaps back since, not asking)
    User& user = *found;
    if (now - user.last_ranked < interval) {
      waiting.push_back(std::move(id));
      continue;
    }
    user.last_ranked = now;
    user.asked = false;
    out.push_back({std::move(id), std::vector<std::string>(user.recent.begin(), user.recent.end()), user.context,
                   user.last_ts_ms, user.oldest_asked_kafka_ms});
    user.oldest_asked_kafka_ms = -1;
    ++taken;
  }
  asked_.insert(asked_.begin(), std::make_move_iterator(waiting.begin()), std::make_move_iterator(waiting.end()));
}

}  // namespace streamrec::pipeline
