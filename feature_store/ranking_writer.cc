#include "feature_store/ranking_writer.h"

#include <charconv>

#include "core/wall_clock.h"

namespace streamrec {
namespace {
std::string format_score(double score) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, score);
  return std::string(buf, end);
}
}  // namespace

Status RankingWriter::write(RedisConnection& redis, const std::vector<Ranking>& rankings) {
  const std::string now_ms = std::to_string(wall_clock_ms());
  const std::string ttl = std::to_string(user_ttl_s_);
  for (const Ranking& r : rankings) {
    // A sorted set orders itself: the members go in as the ranker left them.
    std::vector<std::string> zadd = {"ZADD", r.key};
    for (auto& [item, score] : r.items) {
      zadd.push_back(format_score(score));
      zadd.push_back(item);
    }
    redis.append({"MULTI"});
    redis.append({"DEL", r.key});
    if (!r.items.empty()) redis.append(std::vector<std::string_view>(zadd.begin(), zadd.end()));
    if (!r.stamp_key.empty()) redis.append({"HSET", r.stamp_key, "rec_ts", now_ms});
    if (!r.why_key.empty()) {
      redis.append({"DEL", r.why_key});
      if (!r.why.empty() && r.why.size() == r.items.size()) {
        std::vector<std::string_view> hset = {"HSET", r.why_key};
        for (size_t i = 0; i < r.items.size(); ++i) {
          hset.push_back(r.items[i].first);
          hset.push_back(r.why[i]);
        }
        redis.append(hset);
      }
    }
    if (user_ttl_s_ > 0) {
      if (!r.items.empty()) redis.append({"EXPIRE", r.key, ttl});
      if (!r.stamp_key.empty()) redis.append({"EXPIRE", r.stamp_key, ttl});
      if (!r.why_key.empty() && !r.why.empty() && r.why.size() == r.items.size()) redis.append({"EXPIRE", r.why_key, ttl});
    }
    redis.append({"EXEC"});
  }
  if (redis.pending() == 0) return {};
  auto replies = redis.read_replies();
  if (!replies.ok()) return Error{replies.error().message};
  for (const auto& reply : *replies) {
    if (reply->type == REDIS_REPLY_ERROR)
      return Error{"redis: ranking write failed: " + std::string(reply_text(reply.get()))};
    if (reply->type == REDIS_REPLY_ARRAY)  // EXEC: one reply per queued command
      for (size_t i = 0; i < reply->elements; ++i)
        if (reply->element[i]->type == REDIS_REPLY_ERROR)
          return Error{"redis: ranking write failed: " + std::string(reply_text(reply->element[i]))};
  }
  return {};
}

}  // namespace streamrec
