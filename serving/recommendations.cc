#include "serving/recommendations.h"

#include <boost/uuid/detail/sha1.hpp>

#include <charconv>
#include <cstdio>

#include "feature_store/redis_connection.h"
#include "serving/explanation_json.h"

namespace streamrec::serving {

namespace {

// KEYS: 1 the user's ranking, 2 their features (rec_ts), 3 sr:model,
// 4 sr:pop, 5 their explanations, 6 sr:available.
// ARGV: 1 k, 2 the first window, 3 and 4 what an item's hash name starts and
// ends with around its id, 5 "1" to explain.
// Returns {1 personal or 0 popular, rec_ts, model version, model updated_ts,
// {item, score, item, score, ...} best first, {explanation per item}}.
// Read-only (no-writes: it runs on a replica and on a Redis out of memory).
constexpr std::string_view kScript = R"lua(#!lua flags=no-writes
local k, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local model = redis.call('HMGET', KEYS[3], 'version', 'updated_ts')
local zset, personal, ranked_ts = KEYS[1], 1, false
local range = redis.call('ZREVRANGE', zset, 0, window - 1, 'WITHSCORES')
if #range == 0 then
  zset, personal = KEYS[4], 0
  range = redis.call('ZREVRANGE', zset, 0, window - 1, 'WITHSCORES')
else
  ranked_ts = redis.call('HGET', KEYS[2], 'rec_ts')
end
local kept, start = {}, 0
while #range > 0 do
  local ids = {}
  for i = 1, #range, 2 do ids[#ids + 1] = range[i] end
  local available = redis.call('HMGET', KEYS[6], unpack(ids))
  for i = 1, #ids do
    local a = available[i]
    if not a then a = redis.call('HGET', ARGV[3] .. ids[i] .. ARGV[4], 'available') end
    if a ~= '0' then
      kept[#kept + 1] = ids[i]
      kept[#kept + 1] = range[2 * i]
      if #kept == 2 * k then break end
    end
  end
  if #kept == 2 * k or #range < 2 * window then break end
  start = start + window
  window = math.min(window * 2, 1024)
  range = redis.call('ZREVRANGE', zset, start, start + window - 1, 'WITHSCORES')
end
local why = {}
if ARGV[5] == '1' and personal == 1 and #kept > 0 then
  local ids = {}
  for i = 1, #kept, 2 do ids[#ids + 1] = kept[i] end
  why = redis.call('HMGET', KEYS[5], unpack(ids))
end
return {personal, ranked_ts, model[1], model[2], kept, why}
)lua";

std::string sha1_hex(std::string_view text) {
  boost::uuids::detail::sha1 sha;
  sha.process_bytes(text.data(), text.size());
  boost::uuids::detail::sha1::digest_type digest;
  sha.get_digest(digest);
  char hex[41];
  for (int i = 0; i < 5; ++i) std::snprintf(hex + 8 * i, 9, "%08x", digest[i]);
  return std::string(hex, 40);
}

std::optional<int64_t> integer(const redisReply* reply) {
  if (!reply || reply->type != REDIS_REPLY_STRING) return std::nullopt;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(reply->str, reply->str + reply->len, value);
  if (ec != std::errc() || end != reply->str + reply->len) return std::nullopt;
  return value;
}

}  // namespace

RecommendationReader::RecommendationReader(RedisKeys keys)
    : keys_(std::move(keys)),
      sha_(sha1_hex(kScript)),
      model_key_(keys_.model()),
      popularity_key_(keys_.popularity()),
      availability_key_(keys_.availability()) {
  const std::string sample = keys_.item_features("");  // sr:{i:}:f
  const size_t id_at = sample.find("{i:") + 3;
  item_key_start_ = sample.substr(0, id_at);
  item_key_end_ = sample.substr(id_at);
}

std::string_view RecommendationReader::script() { return kScript; }

size_t RecommendationReader::first_window(size_t k) {
  // A little more than k: unavailable items are rare in a ranking (the
  // ranker skips them), so one window usually does.
  return k + k / 2 + 4;
}

void RecommendationReader::read(AsyncRedis& redis, std::string_view user_id, size_t k, bool explain,
                                Done done) const {
  send(redis, /*by_sha=*/true, std::string(user_id), k, explain, std::move(done));
}

void RecommendationReader::send(AsyncRedis& redis, bool by_sha, std::string user_id, size_t k, bool explain,
                                Done done) const {
  const std::string rankings = keys_.user_rankings(user_id);
  const std::string features = keys_.user_features(user_id);
  const std::string why = keys_.user_explanations(user_id);
  char k_text[24], window_text[24];
  const std::string_view k_arg(k_text, std::to_chars(k_text, k_text + sizeof k_text, k).ptr - k_text);
  const std::string_view window_arg(
      window_text, std::to_chars(window_text, window_text + sizeof window_text, first_window(k)).ptr - window_text);
  const std::vector<std::string_view> args = {by_sha ? "EVALSHA" : "EVAL",
                                              by_sha ? std::string_view(sha_) : kScript,
                                              "6",
                                              rankings,
                                              features,
                                              model_key_,
                                              popularity_key_,
                                              why,
                                              availability_key_,
                                              k_arg,
                                              window_arg,
                                              item_key_start_,
                                              item_key_end_,
                                              explain ? "1" : "0"};
  redis.command(args, [this, &redis, by_sha, user_id = std::move(user_id), k, explain,
                       done = std::move(done)](Result<const redisReply*> answer) mutable {
    const auto failed = [&](std::string_view why) {
      done(Error{"redis: reading " + keys_.user_rankings(user_id) + ": " + std::string(why)});
    };
    if (!answer.ok()) return failed(answer.error().message);
    const redisReply* reply = *answer;
    if (reply->type == REDIS_REPLY_ERROR) {
      // A Redis restarted or flushed since: EVAL sends the script and caches it again.
      if (by_sha && reply_text(reply).rfind("NOSCRIPT", 0) == 0)
        return send(redis, /*by_sha=*/false, std::move(user_id), k, explain, std::move(done));
      return failed(reply_text(reply));
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 6 || reply->element[0]->type != REDIS_REPLY_INTEGER ||
        reply->element[4]->type != REDIS_REPLY_ARRAY || reply->element[5]->type != REDIS_REPLY_ARRAY)
      return failed("unexpected reply of the read script");
    done(parse(reply));
  });
}

Recommendations RecommendationReader::parse(const redisReply* reply) {
  Recommendations result;
  const bool personal = reply->element[0]->integer == 1;
  result.source = personal ? "personal" : "popular";
  if (personal) result.ranked_at_ms = integer(reply->element[1]);
  result.model_version = integer(reply->element[2]);
  result.model_updated_ms = integer(reply->element[3]);
  const redisReply* kept = reply->element[4];
  const redisReply* explanations = reply->element[5];
  result.items.reserve(kept->elements / 2);
  for (size_t i = 0; i + 1 < kept->elements; i += 2) {
    const redisReply* member = kept->element[i];
    const redisReply* score = kept->element[i + 1];
    Recommendation& r = result.items.emplace_back();
    r.item_id.assign(member->str, member->len);
    std::from_chars(score->str, score->str + score->len, r.score);
  }
  if (explanations->elements == result.items.size())
    for (size_t i = 0; i < explanations->elements; ++i)
      if (const redisReply* f = explanations->element[i]; f->type == REDIS_REPLY_STRING)
        result.items[i].why = explanation_json(std::string_view(f->str, f->len));  // nullopt: not the learner's format
  return result;
}

}  // namespace streamrec::serving
