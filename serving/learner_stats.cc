#include "serving/learner_stats.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>

#include "core/event.h"

namespace streamrec::serving {

namespace {

using simdjson::dom::element;
using simdjson::dom::object;

// One parsed sample: the figures the dashboard plots.
struct Sample {
  int64_t ts = 0;
  std::string learner;
  double events = NAN, samples_learned = NAN, rankings_written = NAN, dead_letters = NAN, lag = NAN;
  double auc_click = NAN, auc_ctcvr = NAN, calibration_click = NAN, calibration_ctcvr = NAN;
  double freshness_count = NAN;
  std::vector<double> freshness_bounds, freshness_cumulative;
  std::string dead_letters_by_reason = "{}";  // as JSON
};

double number(const element& e) {
  if (double d; !e.get_double().get(d)) return d;
  if (int64_t i; !e.get_int64().get(i)) return static_cast<double>(i);
  if (uint64_t u; !e.get_uint64().get(u)) return static_cast<double>(u);
  return NAN;  // null: undefined (an AUC before both labels were seen)
}

double field(const object& o, std::string_view name) {
  element e;
  if (o[name].get(e)) return NAN;
  return number(e);
}

std::optional<Sample> parse(simdjson::dom::parser& parser, const std::string& text) {
  object root, consumer, sink;
  if (parser.parse(text).get(root) || root["consumer"].get(consumer) || root["sink"].get(sink)) return std::nullopt;
  Sample s;
  std::string_view learner;
  if (root["ts"].get(s.ts) || root["learner"].get(learner)) return std::nullopt;
  s.learner = learner;
  s.events = field(consumer, "events");
  s.dead_letters = field(consumer, "dead_letters");
  s.lag = field(consumer, "lag");
  if (object reasons; !consumer["dead_letters_by_reason"].get(reasons)) s.dead_letters_by_reason = simdjson::minify(reasons);
  s.samples_learned = field(sink, "samples_learned");
  s.rankings_written = field(sink, "rankings_written");
  s.auc_click = field(sink, "auc_click_window");
  s.auc_ctcvr = field(sink, "auc_ctcvr_window");
  if (object tasks; !sink["tasks"].get(tasks)) {
    if (object click; !tasks["click"].get(click)) s.calibration_click = field(click, "calibration");
    if (object ctcvr; !tasks["ctcvr"].get(ctcvr)) s.calibration_ctcvr = field(ctcvr, "calibration");
  }
  if (object freshness; !sink["freshness_ms"].get(freshness)) {
    s.freshness_count = field(freshness, "count");
    if (object le; !freshness["le"].get(le)) {
      for (auto [bound, count] : le) {
        s.freshness_bounds.push_back(std::stod(std::string(bound)));
        s.freshness_cumulative.push_back(number(count));
      }
    }
  }
  return s;
}

// Shortest round-trip form: counters and times stay exact.
std::string json(double v) { return std::isfinite(v) ? fmt::format("{}", v) : "null"; }

double rate(double before, double after, double seconds) {
  if (!std::isfinite(before) || !std::isfinite(after) || seconds <= 0 || after < before) return NAN;
  return (after - before) / seconds;
}

}  // namespace

double interval_quantile(const std::vector<double>& bounds, const std::vector<double>& before,
                         const std::vector<double>& after, double total_before, double total_after, double q) {
  const double gained = total_after - total_before;
  if (!(gained > 0) || bounds.empty() || before.size() != bounds.size() || after.size() != bounds.size()) return NAN;
  const double target = q * gained;
  double below = 0, lower_bound = 0;
  for (size_t i = 0; i < bounds.size(); ++i) {
    const double at_most = after[i] - before[i];
    if (at_most >= target && at_most > below)
      return lower_bound + (bounds[i] - lower_bound) * (target - below) / (at_most - below);
    below = at_most;
    lower_bound = bounds[i];
  }
  return bounds.back();
}

std::string learner_stats_json(const std::vector<std::string>& samples,
                               const std::vector<std::pair<std::string, std::string>>& model, int64_t since_ms,
                               int64_t now_ms) {
  simdjson::dom::parser parser;
  std::map<std::string, std::vector<Sample>> by_learner;
  size_t skipped = 0;
  for (const std::string& text : samples) {
    std::optional<Sample> s = parse(parser, text);
    if (!s) {
      ++skipped;
      continue;
    }
    by_learner[s->learner].push_back(std::move(*s));
  }
  std::string out = fmt::format("{{\"now\":{},\"model\":", now_ms);
  if (model.empty()) {
    out += "null";
  } else {
    out += "{";
    for (size_t i = 0; i < model.size(); ++i) {
      if (i) out += ",";
      append_json_string(out, model[i].first);
      out += ":";
      // Numbers as numbers ("nan", an AUC not defined yet, as null).
      const std::string& value = model[i].second;
      double v = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec == std::errc() && end == value.data() + value.size() && !value.empty()) out += json(v);
      else if (value == "nan") out += "null";
      else append_json_string(out, value);
    }
    out += "}";
  }
  std::string learners, points;
  for (auto& [name, list] : by_learner) {
    std::sort(list.begin(), list.end(), [](const Sample& a, const Sample& b) { return a.ts < b.ts; });
    // The same sample pushed twice (a write retried) counts once.
    list.erase(std::unique(list.begin(), list.end(), [](const Sample& a, const Sample& b) { return a.ts == b.ts; }),
               list.end());
    const Sample& last = list.back();
    learners += learners.empty() ? "{" : ",{";
    learners += "\"learner\":";
    append_json_string(learners, name);
    learners += fmt::format(",\"last_ts\":{},\"events\":{},\"samples_learned\":{},\"lag\":{},\"dead_letters\":{},"
                            "\"dead_letters_by_reason\":{}}}",
                            last.ts, json(last.events), json(last.samples_learned), json(last.lag),
                            json(last.dead_letters), last.dead_letters_by_reason);
    for (size_t i = 0; i < list.size(); ++i) {
      const Sample& s = list[i];
      if (s.ts < since_ms) continue;  // not plotted, but the next point's rates start from it
      const Sample* before = i > 0 ? &list[i - 1] : nullptr;
      const double seconds = before ? static_cast<double>(s.ts - before->ts) / 1000 : 0;
      auto per_second = [&](double Sample::*figure) {
        return before ? rate(before->*figure, s.*figure, seconds) : std::nan("");
      };
      auto freshness = [&](double q) {
        if (!before || before->freshness_bounds != s.freshness_bounds) return std::nan("");
        return interval_quantile(s.freshness_bounds, before->freshness_cumulative, s.freshness_cumulative,
                                 before->freshness_count, s.freshness_count, q);
      };
      points += points.empty() ? "{" : ",{";
      points += "\"learner\":";
      append_json_string(points, name);
      points += fmt::format(
          ",\"ts\":{},\"events_per_s\":{},\"samples_per_s\":{},\"rankings_per_s\":{},\"dead_letters_per_s\":{},"
          "\"lag\":{},\"freshness_p50_ms\":{},\"freshness_p99_ms\":{},\"auc_click\":{},\"auc_ctcvr\":{},"
          "\"calibration_click\":{},\"calibration_ctcvr\":{}}}",
          s.ts, json(per_second(&Sample::events)), json(per_second(&Sample::samples_learned)),
          json(per_second(&Sample::rankings_written)), json(per_second(&Sample::dead_letters)), json(s.lag),
          json(freshness(0.5)), json(freshness(0.99)), json(s.auc_click), json(s.auc_ctcvr),
          json(s.calibration_click), json(s.calibration_ctcvr));
    }
  }
  out += ",\"learners\":[" + learners + "],\"points\":[" + points + "]";
  out += fmt::format(",\"skipped\":{}}}", skipped);
  return out;
}

Result<std::string> LearnerStatsReader::read(RedisConnection& redis, int64_t minutes, int64_t now_ms) const {
  const std::string stats = keys_.stats(), model = keys_.model();
  redis.append({"LRANGE", stats, "0", "-1"});
  redis.append({"HGETALL", model});
  auto replies = redis.read_replies();
  if (!replies.ok()) return replies.error();
  const redisReply* list = (*replies)[0].get();
  const redisReply* fields = (*replies)[1].get();
  if (list->type == REDIS_REPLY_ERROR) return Error{"redis: LRANGE " + stats + ": " + std::string(reply_text(list))};
  if (fields->type == REDIS_REPLY_ERROR)
    return Error{"redis: HGETALL " + model + ": " + std::string(reply_text(fields))};
  std::vector<std::string> samples;
  if (list->type == REDIS_REPLY_ARRAY)
    for (size_t i = 0; i < list->elements; ++i) samples.emplace_back(list->element[i]->str, list->element[i]->len);
  std::vector<std::pair<std::string, std::string>> model_fields;
  if (fields->type == REDIS_REPLY_ARRAY)
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
      model_fields.emplace_back(std::string(reply_text(fields->element[i])), std::string(reply_text(fields->element[i + 1])));
  return learner_stats_json(samples, model_fields, now_ms - minutes * 60'000, now_ms);
}

}  // namespace streamrec::serving
