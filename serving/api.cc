#include "serving/api.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <map>
#include <vector>

#include "core/event.h"
#include "core/wall_clock.h"
#include "serving/dashboard_page.h"
#include "serving/event_intake.h"

namespace streamrec::serving {

namespace http = boost::beast::http;

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  size_t start = path.empty() || path[0] != '/' ? 0 : 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    segments.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  if (!segments.empty() && segments.back().empty()) segments.pop_back();  // a trailing slash
  return segments;
}

std::string json_optional(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "null"; }

void append_json_score(std::string& out, double v) {
  if (std::isfinite(v)) fmt::format_to(std::back_inserter(out), "{}", v);
  else out += "null";
}

// Compares every byte: how long it takes says nothing about how much of a
// guessed token was right.
// The 200 answer of a recommendations read.
HttpResponse recommendations_json(std::string_view user_id, const Recommendations& result, bool explain,
                                  unsigned version);

bool same_secret(std::string_view presented, std::string_view secret) {
  if (presented.size() != secret.size() || secret.empty()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < secret.size(); ++i) diff |= static_cast<unsigned char>(presented[i] ^ secret[i]);
  return diff == 0;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view segment) {
  std::string out;
  out.reserve(segment.size());
  for (size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] != '%') {
      out += segment[i];
      continue;
    }
    if (i + 2 >= segment.size()) return std::nullopt;
    unsigned value = 0;
    auto [end, ec] = std::from_chars(segment.data() + i + 1, segment.data() + i + 3, value, 16);
    if (ec != std::errc() || end != segment.data() + i + 3) return std::nullopt;
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

ServingApi::ServingApi(const Config& config, RedisPool& redis, EventPublisher* publisher, ServingMetrics& metrics)
    : config_(config),
      redis_(redis),
      publisher_(publisher),
      metrics_(metrics),
      recommendation_reader_(RedisKeys(config.redis.prefix)),
      feature_reader_(RedisKeys(config.redis.prefix)),
      stats_reader_(RedisKeys(config.redis.prefix)) {
  if (publisher_)
    forgetter_.emplace(config.kafka.events_topic, RedisKeys(config.redis.prefix), *publisher_, redis_);
}

Handler ServingApi::handler_for(boost::asio::io_context& thread_io) {
  auto reads = std::make_shared<AsyncRedis>(thread_io, config_.redis.url, static_cast<int>(config_.redis.timeout_ms));
  return [this, reads](HttpRequest&& request, Respond respond) {
    handle(std::move(request), std::move(respond), *reads);
  };
}

void ServingApi::handle(HttpRequest&& request, Respond respond, AsyncRedis& reads) {
  const auto started = std::chrono::steady_clock::now();
  const std::string_view target(request.target().data(), request.target().size());
  const size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query = question == std::string_view::npos ? "" : target.substr(question + 1);
  const std::vector<std::string_view> s = split_path(path);
  const unsigned version = request.version();

  // Routes are literals: naming one (and counting it) builds no string.
  std::string_view route = "unknown";
  http::verb allowed = http::verb::get;
  if (s.empty()) route = "/";
  else if (s.size() == 2 && s[0] == "v1" && s[1] == "stats") route = "/v1/stats";
  else if (s.size() == 1 && s[0] == "healthz") route = "/healthz";
  else if (s.size() == 1 && s[0] == "readyz") route = "/readyz";
  else if (s.size() == 1 && s[0] == "metrics") route = "/metrics";
  else if (s.size() == 4 && s[0] == "v1" && s[1] == "users" && s[3] == "recommendations")
    route = "/v1/users/{id}/recommendations";
  else if (s.size() == 4 && s[0] == "v1" && s[1] == "users" && s[3] == "features") route = "/v1/users/{id}/features";
  else if (s.size() == 3 && s[0] == "v1" && s[1] == "items") route = "/v1/items/{id}";
  else if (s.size() == 3 && s[0] == "v1" && s[1] == "users") {
    route = "/v1/users/{id}";
    allowed = http::verb::delete_;
  }
  else if (s.size() == 2 && s[0] == "v1" && s[1] == "events") {
    route = "/v1/events";
    allowed = http::verb::post;
  }

  Respond finish = [this, started, route, respond = std::move(respond)](HttpResponse response) {
    metrics_.request(route, static_cast<int>(response.result_int()), std::chrono::steady_clock::now() - started);
    respond(std::move(response));
  };

  if (route == "unknown") {
    return finish(error_response(http::status::not_found, "unknown_route",
                                 "no route for " + std::string(request.method_string()) + " " + std::string(path) +
                                     " (see docs/serving.md)",
                                 version));
  }
  if (request.method() != allowed) {
    HttpResponse response = error_response(http::status::method_not_allowed, "method_not_allowed",
                                           std::string(route) + " takes " + std::string(http::to_string(allowed)) + " only", version);
    response.set(http::field::allow, http::to_string(allowed));
    return finish(std::move(response));
  }
  // The dashboard's own parameters (?user=) are read by its script.
  if (route != "/v1/users/{id}/recommendations" && route != "/v1/stats" && route != "/" && !query.empty()) {
    return finish(error_response(http::status::bad_request, "unknown_parameter",
                                 std::string(route) + " takes no query parameters, got \"" + std::string(query) + "\"", version));
  }
  if (route == "/healthz") return finish(json_response(http::status::ok, "{\"status\":\"ok\"}", version));
  if (route == "/readyz") return finish(ready(request));
  if (route == "/metrics") return finish(metrics(request));
  if (route == "/") return finish(dashboard(request));
  if (route == "/v1/stats") return finish(stats(request, query));
  if (route == "/v1/events") return events(std::move(request), std::move(finish));
  // Forgetting a user is a write: the token first, then the id.
  if (route == "/v1/users/{id}")
    if (auto refused = refuse_write(request)) return finish(std::move(*refused));

  // The routes that read one user or one item.
  const std::string_view kind = s[1] == "users" ? "user" : "item";
  std::optional<std::string> id = percent_decode(s[2]);
  if (!id) {
    return finish(error_response(http::status::bad_request, "bad_id",
                                 std::string(kind) + " id has a malformed %-escape: \"" + std::string(s[2]) + "\"",
                                 version));
  }
  if (id->empty() || id->size() > kMaxIdBytes) {
    return finish(error_response(http::status::bad_request, "bad_id",
                                 fmt::format("{} id must be 1 to {} bytes, got {}", kind, kMaxIdBytes, id->size()),
                                 version));
  }
  for (unsigned char c : *id) {
    if (c < 0x20 || c == 0x7f)
      return finish(error_response(http::status::bad_request, "bad_id",
                                   std::string(kind) + " id holds a control character", version));
  }
  if (route == "/v1/users/{id}/recommendations") return recommendations(request, *id, query, reads, std::move(finish));
  if (route == "/v1/users/{id}") return forget_user(request, *id, std::move(finish));
  return finish(features(request, kind, *id));
}

void ServingApi::recommendations(const HttpRequest& request, std::string_view user_id, std::string_view query,
                                 AsyncRedis& reads, Respond respond) {
  const unsigned version = request.version();
  int64_t k = 10;
  bool explain = false;
  for (std::string_view rest = query; !rest.empty();) {
    const size_t amp = rest.find('&');
    std::string_view param = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? "" : rest.substr(amp + 1);
    if (param.empty()) continue;
    const size_t eq = param.find('=');
    std::string_view name = param.substr(0, eq), value = eq == std::string_view::npos ? "" : param.substr(eq + 1);
    if (name == "explain") {
      if (value != "true" && value != "false") {
        return respond(error_response(http::status::bad_request, "bad_explain",
                              "explain must be true or false, got \"" + std::string(value) + "\"", version));
      }
      explain = value == "true";
      continue;
    }
    if (name != "k") {
      return respond(error_response(http::status::bad_request, "unknown_parameter",
                                    "unknown query parameter \"" + std::string(name) +
                                        "\" (recommendations take k and explain)",
                                    version));
    }
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), k);
    if (ec != std::errc() || end != value.data() + value.size() || value.empty()) {
      return respond(error_response(http::status::bad_request, "bad_k",
                                    "k must be an integer, got \"" + std::string(value) + "\"", version));
    }
  }
  if (k < 1 || k > config_.serving.max_k) {
    return respond(error_response(
        http::status::bad_request, "k_out_of_range",
        fmt::format("k must be between 1 and {} (serving.max_k), got {}", config_.serving.max_k, k), version));
  }
  recommendation_reader_.read(
      reads, user_id, static_cast<size_t>(k), explain,
      [this, user = std::string(user_id), explain, version, respond = std::move(respond)](
          Result<Recommendations> result) {
        if (!result.ok()) {
          metrics_.redis_error();
          return respond(
              error_response(http::status::service_unavailable, "redis_unavailable", result.error().message, version));
        }
        respond(recommendations_json(user, *result, explain, version));
      });
}

namespace {

HttpResponse recommendations_json(std::string_view user_id, const Recommendations& result, bool explain,
                                  unsigned version) {
  const int64_t now = wall_clock_ms();
  std::string body;
  body.reserve(160 + 48 * result.items.size());
  body += "{\"user_id\":";
  append_json_string(body, user_id);
  body += ",\"source\":\"";
  body += result.source;
  body += "\",\"items\":[";
  for (size_t i = 0; i < result.items.size(); ++i) {
    if (i) body += ',';
    body += "{\"item_id\":";
    append_json_string(body, result.items[i].item_id);
    body += ",\"score\":";
    append_json_score(body, result.items[i].score);
    if (explain) {
      // The learner's explanation; a popular fall-back item says so; an item
      // ranked before the learner wrote explanations has none (null).
      body += ",\"why\":";
      if (result.items[i].why) body += *result.items[i].why;
      else if (result.source == "popular") body += "{\"source\":\"popular_fallback\"}";
      else body += "null";
    }
    body += "}";
  }
  std::optional<int64_t> age;
  if (result.ranked_at_ms) age = std::max<int64_t>(0, now - *result.ranked_at_ms);
  fmt::format_to(std::back_inserter(body), "],\"model_version\":{},\"model_updated_ts\":{},\"ranked_ts\":{},\"ranking_age_ms\":{}}}",
                      json_optional(result.model_version), json_optional(result.model_updated_ms),
                      json_optional(result.ranked_at_ms), json_optional(age));
  return json_response(http::status::ok, std::move(body), version);
}

}  // namespace

HttpResponse ServingApi::features(const HttpRequest& request, std::string_view kind, std::string_view id) {
  const unsigned version = request.version();
  auto redis = redis_.lease();
  if (!redis.ok()) {
    metrics_.redis_error();
    return error_response(http::status::service_unavailable, "redis_unavailable", redis.error().message, version);
  }
  auto result = kind == "user" ? feature_reader_.user(**redis, id) : feature_reader_.item(**redis, id);
  if (!result.ok()) {
    metrics_.redis_error();
    return error_response(http::status::service_unavailable, "redis_unavailable", result.error().message, version);
  }
  if (!*result) {
    return error_response(http::status::not_found, "not_found",
                          std::string(kind) + " \"" + std::string(id) + "\" has no features in Redis", version);
  }
  return json_response(http::status::ok, std::move(**result), version);
}

std::optional<HttpResponse> ServingApi::refuse_write(const HttpRequest& request) const {
  const unsigned version = request.version();
  if (config_.serving.auth_token.empty()) {
    return error_response(http::status::forbidden, "writes_disabled",
                          "writes need a token: set serving.auth_token (STREAMREC_SERVING_AUTH_TOKEN)", version);
  }
  const auto authorization = request[http::field::authorization];
  const std::string_view presented(authorization.data(), authorization.size());
  constexpr std::string_view kBearer = "Bearer ";
  if (presented.substr(0, kBearer.size()) != kBearer ||
      !same_secret(presented.substr(kBearer.size()), config_.serving.auth_token)) {
    HttpResponse response = error_response(
        http::status::unauthorized, "unauthorized",
        presented.empty() ? "missing Authorization: Bearer <token>" : "wrong bearer token", version);
    response.set(http::field::www_authenticate, "Bearer");
    return response;
  }
  return std::nullopt;
}

void ServingApi::forget_user(const HttpRequest& request, const std::string& user_id, Respond respond) {
  const unsigned version = request.version();
  if (!publisher_) {
    return respond(error_response(http::status::service_unavailable, "kafka_unavailable",
                                  "this server has no Kafka producer", version));
  }
  forgetter_->forget(user_id, [this, user_id, version, respond](ForgetOutcome outcome) {
    if (!outcome.kafka_error.empty()) {
      metrics_.kafka_error();
      return respond(error_response(http::status::service_unavailable, "not_acknowledged",
                                    "the broker did not acknowledge the tombstone, nothing was deleted: " +
                                        outcome.kafka_error + " (send the DELETE again)",
                                    version));
    }
    if (!outcome.redis_error.empty()) metrics_.redis_error();
    // 200: the keys are gone now; 202: the learners delete them when they
    // reach the tombstone (Redis refused the immediate delete).
    std::string body = "{\"user_id\":";
    append_json_string(body, user_id);
    body += ",\"event_id\":";
    append_json_string(body, outcome.event_id);
    body += ",\"keys_deleted\":" + json_optional(outcome.keys_deleted);
    if (!outcome.redis_error.empty()) {
      body += ",\"redis\":";
      append_json_string(body, outcome.redis_error);
    }
    body += "}";
    respond(json_response(outcome.keys_deleted ? http::status::ok : http::status::accepted, std::move(body), version));
  });
}

void ServingApi::events(HttpRequest&& request, Respond respond) {
  const unsigned version = request.version();
  if (auto refused = refuse_write(request)) return respond(std::move(*refused));
  if (!publisher_) {
    return respond(error_response(http::status::service_unavailable, "kafka_unavailable",
                                  "this server has no Kafka producer", version));
  }
  EventIntake intake(DecodeLimits{.max_future_skew_ms = config_.consumer.max_future_skew_s * 1000});
  auto split = intake.split(request.body());
  if (!split.ok()) return respond(error_response(http::status::bad_request, "malformed_json", split.error().message, version));
  auto parts = std::make_shared<Intake>(std::move(split).value());
  if (parts->accepted.empty() && parts->rejected.empty()) {
    return respond(error_response(http::status::bad_request, "empty_body",
                                  "no events in the body (a JSON array or NDJSON, one event per line)", version));
  }
  // Renders the answer once the broker has spoken on every accepted event.
  auto answer = [this, parts, version, respond](const std::vector<std::string>& kafka_errors) {
    std::map<std::string, int64_t> by_reason;
    int64_t accepted = 0;
    std::vector<RejectedEvent> rejected = parts->rejected;
    for (size_t i = 0; i < parts->accepted.size(); ++i) {
      if (i < kafka_errors.size() && !kafka_errors[i].empty())
        rejected.push_back({parts->accepted[i].line, "not_acknowledged", kafka_errors[i]});
      else
        ++accepted;
    }
    std::sort(rejected.begin(), rejected.end(), [](auto& a, auto& b) { return a.line < b.line; });
    bool kafka_failed = false;
    std::string list;
    for (const RejectedEvent& r : rejected) {
      ++by_reason[r.reason];
      kafka_failed = kafka_failed || r.reason == "not_acknowledged";
      list += list.empty() ? "" : ",";
      list += fmt::format("{{\"line\":{},\"reason\":", r.line);
      append_json_string(list, r.reason);
      list += ",\"message\":";
      append_json_string(list, r.message);
      list += "}";
    }
    metrics_.events(accepted, by_reason);
    if (kafka_failed) metrics_.kafka_error();
    const auto status = kafka_failed ? http::status::service_unavailable
                        : accepted == 0 ? http::status::unprocessable_entity
                                        : http::status::ok;
    respond(json_response(status,
                          fmt::format("{{\"accepted\":{},\"rejected\":{},\"rejections\":[{}]}}", accepted,
                                      rejected.size(), list),
                          version));
  };
  if (parts->accepted.empty()) return answer({});
  std::vector<KeyedMessage> messages;
  messages.reserve(parts->accepted.size());
  for (AcceptedEvent& e : parts->accepted) messages.push_back({e.user_id, std::move(e.message)});
  publisher_->publish(config_.kafka.events_topic, messages, answer);
}

HttpResponse ServingApi::ready(const HttpRequest& request) {
  std::string redis_state = "ok", kafka_state = "ok";
  if (auto redis = redis_.lease(); !redis.ok()) {
    redis_state = redis.error().message;
  } else if (auto pong = (*redis)->command({"PING"}); !pong.ok()) {
    redis_state = "redis: PING failed: " + pong.error().message;
  }
  if (!publisher_) kafka_state = "no Kafka producer";
  else if (Status s = publisher_->reachable(1000); !s.ok()) kafka_state = s.message();
  const bool ready = redis_state == "ok" && kafka_state == "ok";
  std::string body = fmt::format("{{\"ready\":{},\"redis\":", ready ? "true" : "false");
  append_json_string(body, redis_state);
  body += ",\"kafka\":";
  append_json_string(body, kafka_state);
  body += "}";
  return json_response(ready ? http::status::ok : http::status::service_unavailable, std::move(body),
                       request.version());
}

HttpResponse ServingApi::dashboard(const HttpRequest& request) {
  HttpResponse response(http::status::ok, request.version());
  response.set(http::field::content_type, "text/html; charset=utf-8");
  response.set(http::field::cache_control, "no-cache");
  response.body() = std::string(kDashboardPage);
  return response;
}

HttpResponse ServingApi::stats(const HttpRequest& request, std::string_view query) {
  const unsigned version = request.version();
  constexpr int64_t kMaxMinutes = 60;
  int64_t minutes = 10;
  for (std::string_view rest = query; !rest.empty();) {
    const size_t amp = rest.find('&');
    std::string_view param = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? "" : rest.substr(amp + 1);
    if (param.empty()) continue;
    const size_t eq = param.find('=');
    std::string_view name = param.substr(0, eq), value = eq == std::string_view::npos ? "" : param.substr(eq + 1);
    if (name != "minutes") {
      return error_response(http::status::bad_request, "unknown_parameter",
                            "unknown query parameter \"" + std::string(name) + "\" (stats take minutes)", version);
    }
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), minutes);
    if (ec != std::errc() || end != value.data() + value.size() || value.empty() || minutes < 1 ||
        minutes > kMaxMinutes) {
      return error_response(http::status::bad_request, "bad_minutes",
                            fmt::format("minutes must be an integer from 1 to {}, got \"{}\"", kMaxMinutes, value),
                            version);
    }
  }
  auto redis = redis_.lease();
  if (!redis.ok()) {
    metrics_.redis_error();
    return error_response(http::status::service_unavailable, "redis_unavailable", redis.error().message, version);
  }
  auto result = stats_reader_.read(**redis, minutes, wall_clock_ms());
  if (!result.ok()) {
    metrics_.redis_error();
    return error_response(http::status::service_unavailable, "redis_unavailable", result.error().message, version);
  }
  HttpResponse response = json_response(http::status::ok, std::move(result).value(), version);
  response.set(http::field::cache_control, "no-cache");
  return response;
}

HttpResponse ServingApi::metrics(const HttpRequest& request) {
  PrometheusText text;
  metrics_.expose(text);
  HttpResponse response(http::status::ok, request.version());
  response.set(http::field::content_type, boost::beast::string_view(kPrometheusContentType.data(), kPrometheusContentType.size()));
  response.body() = text.text();
  return response;
}

}  // namespace streamrec::serving
