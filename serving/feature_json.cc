#include "serving/feature_json.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

#include "core/event.h"

namespace streamrec::serving {

namespace {

constexpr std::array<std::string_view, 5> kIntegerFields = {"impressions", "clicks", "purchases", "ts", "rec_ts"};

bool is_integer(std::string_view s) {
  int64_t v;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

bool is_number(std::string_view s) {
  double v;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty() && std::isfinite(v);
}

// `recent` holds a JSON array written by the learner; anything else is shown
// as the string it is rather than trusted into the answer.
bool is_json_array(std::string_view s) {
  simdjson::padded_string padded(s);
  simdjson::dom::parser parser;
  simdjson::dom::element element;
  return !parser.parse(padded).get(element) && element.is_array();
}

void append_value(std::string& out, std::string_view field, std::string_view value) {
  if (field == "emb") out += embedding_json(value);
  else if (field == "recent" && is_json_array(value)) out += value;
  else if (field == "available" && (value == "1" || value == "0")) out += value == "1" ? "true" : "false";
  else if (field == "price" && is_number(value)) out += value;
  else if (std::find(kIntegerFields.begin(), kIntegerFields.end(), field) != kIntegerFields.end() && is_integer(value))
    out += value;
  else append_json_string(out, value);
}

}  // namespace

std::string embedding_json(std::string_view bytes) {
  if (bytes.size() % 4 != 0) return "null";
  std::string out = "[";
  for (size_t i = 0; i < bytes.size(); i += 4) {
    uint32_t bits = static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) |
                    static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 1])) << 8 |
                    static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 2])) << 16 |
                    static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 3])) << 24;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    if (i) out += ',';
    out += std::isfinite(f) ? fmt::format("{}", f) : "null";
  }
  out += ']';
  return out;
}

Result<std::optional<std::string>> FeatureReader::user(RedisConnection& redis, std::string_view user_id) const {
  return read(redis, keys_.user_features(user_id), "user_id", user_id);
}

Result<std::optional<std::string>> FeatureReader::item(RedisConnection& redis, std::string_view item_id) const {
  return read(redis, keys_.item_features(item_id), "item_id", item_id);
}

Result<std::optional<std::string>> FeatureReader::read(RedisConnection& redis, const std::string& key,
                                                      std::string_view id_field, std::string_view id) const {
  auto reply = redis.command({"HGETALL", key});
  if (!reply.ok()) return Error{"redis: HGETALL " + key + ": " + reply.error().message};
  const redisReply* r = reply->get();
  if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) return std::optional<std::string>();
  std::string out = "{";
  append_json_string(out, id_field);
  out += ':';
  append_json_string(out, id);
  for (size_t i = 0; i + 1 < r->elements; i += 2) {
    std::string_view field(r->element[i]->str, r->element[i]->len);
    std::string_view value(r->element[i + 1]->str, r->element[i + 1]->len);
    out += ',';
    append_json_string(out, field);
    out += ':';
    append_value(out, field, value);
  }
  out += '}';
  return std::optional<std::string>(std::move(out));
}

}  // namespace streamrec::serving
