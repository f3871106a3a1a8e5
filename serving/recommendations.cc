#include "serving/recommendations.h"

#include <charconv>

#include "serving/explanation_json.h"

namespace streamrec::serving {

namespace {

std::optional<int64_t> integer(const redisReply* reply) {
  if (!reply || reply->type != REDIS_REPLY_STRING) return std::nullopt;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(reply->str, reply->str + reply->len, value);
  if (ec != std::errc() || end != reply->str + reply->len) return std::nullopt;
  return value;
}

Status reply_error(const redisReply* reply, std::string_view what) {
  return Error{"redis: " + std::string(what) + ": " + std::string(reply_text(reply))};
}

// (member, score) pairs of a ZREVRANGE ... WITHSCORES reply.
Result<std::vector<Recommendation>> members(const redisReply* reply, const std::string& key) {
  if (reply->type == REDIS_REPLY_ERROR) return Error{reply_error(reply, "ZREVRANGE " + key).message()};
  std::vector<Recommendation> out;
  if (reply->type != REDIS_REPLY_ARRAY) return out;
  for (size_t i = 0; i + 1 < reply->elements; i += 2) {
    const redisReply* member = reply->element[i];
    const redisReply* score = reply->element[i + 1];
    Recommendation r;
    r.item_id.assign(member->str, member->len);
    std::from_chars(score->str, score->str + score->len, r.score);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

size_t RecommendationReader::first_window(size_t k) {
  // A little more than k: unavailable items are rare in a ranking (the
  // ranker skips them), so one window usually does.
  return k + k / 2 + 4;
}

Status RecommendationReader::keep_available(RedisConnection& redis, std::vector<Recommendation>& candidates, size_t k,
                                            std::vector<Recommendation>& out) const {
  std::vector<std::string> item_keys;
  for (const Recommendation& c : candidates) item_keys.push_back(keys_.item_features(c.item_id));
  for (const std::string& key : item_keys) redis.append({"HGET", key, "available"});
  auto available = redis.read_replies();
  if (!available.ok()) return Error{available.error().message};
  for (size_t i = 0; i < candidates.size() && out.size() < k; ++i) {
    const redisReply* a = (*available)[i].get();
    if (a->type == REDIS_REPLY_ERROR) return reply_error(a, "HGET " + item_keys[i] + " available");
    // No `available` field: no items message yet, so nothing says it is off sale.
    if (a->type == REDIS_REPLY_STRING && reply_text(a) == "0") continue;
    out.push_back(std::move(candidates[i]));
  }
  return {};
}

Status RecommendationReader::read_available(RedisConnection& redis, const std::string& zset,
                                            std::vector<Recommendation> candidates, size_t k,
                                            std::vector<Recommendation>& out) const {
  size_t start = 0, window = first_window(k);
  for (;;) {
    if (candidates.empty()) return {};
    const bool ended = candidates.size() < window;
    if (Status s = keep_available(redis, candidates, k, out); !s.ok()) return s;
    if (out.size() >= k || ended) return {};
    start += window;
    window *= 2;
    const std::string first = std::to_string(start), last = std::to_string(start + window - 1);
    auto range = redis.command({"ZREVRANGE", zset, first, last, "WITHSCORES"});
    if (!range.ok()) return Error{"redis: ZREVRANGE " + zset + ": " + range.error().message};
    auto next = members(range->get(), zset);
    if (!next.ok()) return Error{next.error().message};
    candidates = std::move(next).value();
  }
}

Result<Recommendations> RecommendationReader::read(RedisConnection& redis, std::string_view user_id, size_t k,
                                                   bool explain) const {
  Recommendations result;
  const std::string rankings = keys_.user_rankings(user_id);
  const std::string features = keys_.user_features(user_id);
  const std::string model = keys_.model();
  const std::string last = std::to_string(first_window(k) - 1);
  // One round trip for the ranking's first window, its age and the model.
  redis.append({"ZREVRANGE", rankings, "0", last, "WITHSCORES"});
  redis.append({"HGET", features, "rec_ts"});
  redis.append({"HMGET", model, "version", "updated_ts"});
  auto replies = redis.read_replies();
  if (!replies.ok()) return replies.error();
  for (const auto& reply : *replies)
    if (reply->type == REDIS_REPLY_ERROR) return Error{reply_error(reply.get(), "reading " + rankings).message()};
  const redisReply* model_fields = (*replies)[2].get();
  if (model_fields->type == REDIS_REPLY_ARRAY && model_fields->elements == 2) {
    result.model_version = integer(model_fields->element[0]);
    result.model_updated_ms = integer(model_fields->element[1]);
  }
  auto ranked = members((*replies)[0].get(), rankings);
  if (!ranked.ok()) return ranked.error();
  if (!ranked->empty()) {
    result.source = "personal";
    result.ranked_at_ms = integer((*replies)[1].get());
    if (Status s = read_available(redis, rankings, std::move(ranked).value(), k, result.items); !s.ok())
      return Error{s.message()};
    if (explain && !result.items.empty()) {
      const std::string why = keys_.user_explanations(user_id);
      std::vector<std::string_view> hmget = {"HMGET", why};
      for (const Recommendation& r : result.items) hmget.push_back(r.item_id);
      auto reply = redis.command(hmget);
      if (!reply.ok()) return Error{"redis: HMGET " + why + ": " + reply.error().message};
      const redisReply* fields = reply->get();
      if (fields->type == REDIS_REPLY_ARRAY && fields->elements == result.items.size())
        for (size_t i = 0; i < fields->elements; ++i)
          if (const redisReply* f = fields->element[i]; f->type == REDIS_REPLY_STRING)
            result.items[i].why = explanation_json(std::string_view(f->str, f->len));  // nullopt: not the learner's format
    }
    return result;
  }
  result.source = "popular";
  const std::string popularity = keys_.popularity();
  auto range = redis.command({"ZREVRANGE", popularity, "0", last, "WITHSCORES"});
  if (!range.ok()) return Error{"redis: ZREVRANGE " + popularity + ": " + range.error().message};
  auto popular = members(range->get(), popularity);
  if (!popular.ok()) return popular.error();
  if (Status s = read_available(redis, popularity, std::move(popular).value(), k, result.items); !s.ok())
    return Error{s.message()};
  return result;
}

}  // namespace streamrec::serving
