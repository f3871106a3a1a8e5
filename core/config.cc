#include "core/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <functional>
#include <set>
#include <unistd.h>

namespace streamrec {
namespace {

// One setting in the schema: how to parse a raw string into the Config and
// how to print it back.
struct Setting {
  std::string key;
  std::function<Status(Config&, const std::string&)> parse;
  std::function<std::string(const Config&)> print;
};

Status bad(const std::string& expected, const std::string& raw) {
  return Error{"expected " + expected + ", got \"" + raw + "\""};
}

Status parse_value(const std::string& raw, std::string& out) { out = raw; return {}; }

Status parse_value(const std::string& raw, int64_t& out) {
  auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), out);
  if (ec != std::errc() || end != raw.data() + raw.size()) return bad("an integer", raw);
  return {};
}

Status parse_value(const std::string& raw, double& out) {
  auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), out);
  if (ec != std::errc() || end != raw.data() + raw.size() || !std::isfinite(out)) return bad("a number", raw);
  return {};
}

Status parse_value(const std::string& raw, bool& out) {
  if (raw == "true" || raw == "1" || raw == "yes" || raw == "on") { out = true; return {}; }
  if (raw == "false" || raw == "0" || raw == "no" || raw == "off") { out = false; return {}; }
  return bad("true or false", raw);
}

std::string print_value(const std::string& v) { return v; }
std::string print_value(int64_t v) { return std::to_string(v); }
std::string print_value(bool v) { return v ? "true" : "false"; }
std::string print_value(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

// A range or shape check on a parsed value; returns an empty Status when fine.
template <class T>
using Check = std::function<Status(const T&)>;

template <class T>
Check<T> at_least(T min) {
  return [min](const T& v) -> Status {
    if (v < min) return Error{"must be >= " + print_value(min) + ", got " + print_value(v)};
    return {};
  };
}

template <class T>
Check<T> positive() {
  return [](const T& v) -> Status {
    if (!(v > 0)) return Error{"must be > 0, got " + print_value(v)};
    return {};
  };
}

template <class T>
Check<T> between(T min, T max) {
  return [min, max](const T& v) -> Status {
    if (v < min || v > max)
      return Error{"must be between " + print_value(min) + " and " + print_value(max) + ", got " + print_value(v)};
    return {};
  };
}

// A duration added to event times: at most kMaxEventTimeSpanS (ten years).
Check<int64_t> event_time_span() { return between<int64_t>(0, kMaxEventTimeSpanS); }

Check<std::string> one_of(std::vector<std::string> allowed) {
  return [allowed](const std::string& v) -> Status {
    if (std::find(allowed.begin(), allowed.end(), v) != allowed.end()) return {};
    std::string list;
    for (auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    return Error{"must be one of " + list + ", got \"" + v + "\""};
  };
}

template <class T>
Check<T> within(T lo, T hi) {
  return [lo, hi](const T& v) -> Status {
    if (!(v >= lo && v <= hi)) return Error{"must be in [" + print_value(lo) + ", " + print_value(hi) + "], got " + print_value(v)};
    return {};
  };
}

// "auto" or an integer 0-1000.
Check<std::string> auto_or_count() {
  return [](const std::string& v) -> Status {
    if (v == "auto") return {};
    int64_t n = -1;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || end != v.data() + v.size() || n < 0 || n > 1000)
      return Error{"must be auto or a count 0-1000, got \"" + v + "\""};
    return {};
  };
}

Check<std::string> non_empty() {
  return [](const std::string& v) -> Status {
    if (v.empty()) return Error{"must not be empty"};
    return {};
  };
}

// Kafka's rule for group.instance.id (as for topic names): 1-249 of
// A-Z a-z 0-9 . _ -; "" turns static membership off.
Check<std::string> group_instance_id() {
  return [](const std::string& v) -> Status {
    bool legal = v.size() <= 249 && std::all_of(v.begin(), v.end(), [](char ch) {
                   return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-';
                 });
    if (!legal) return Error{"must be empty or 1-249 of A-Z a-z 0-9 . _ -, got \"" + v + "\""};
    return {};
  };
}

Check<std::string> redis_url() {
  return [](const std::string& v) -> Status {
    if (v.rfind("redis://", 0) != 0)
      return Error{"expected redis://[user:password@]host:port/db, got \"" + redact_url(v) + "\""};
    return {};
  };
}

// Binds a key to Config::*section.*field with an optional check.
template <class Section, class T>
Setting setting(std::string key, Section Config::*section, T Section::*field, Check<T> check = {}) {
  return Setting{
      std::move(key),
      [=](Config& c, const std::string& raw) -> Status {
        T value{};
        if (Status s = parse_value(raw, value); !s.ok()) return s;
        if (check) {
          if (Status s = check(value); !s.ok()) return s;
        }
        c.*section.*field = std::move(value);
        return {};
      },
      [=](const Config& c) { return print_value(c.*section.*field); }};
}

// Two-level sections (producer.synthetic.*).
template <class Outer, class Inner, class T>
Setting setting(std::string key, Outer Config::*outer, Inner Outer::*inner, T Inner::*field, Check<T> check = {}) {
  return Setting{
      std::move(key),
      [=](Config& c, const std::string& raw) -> Status {
        T value{};
        if (Status s = parse_value(raw, value); !s.ok()) return s;
        if (check) {
          if (Status s = check(value); !s.ok()) return s;
        }
        c.*outer.*inner.*field = std::move(value);
        return {};
      },
      [=](const Config& c) { return print_value(c.*outer.*inner.*field); }};
}

const std::vector<Setting>& schema() {
  using C = Config;
  static const std::vector<Setting> settings = {
      setting("kafka.bootstrap_servers", &C::kafka, &KafkaConfig::bootstrap_servers, non_empty()),
      setting("kafka.group_id", &C::kafka, &KafkaConfig::group_id, non_empty()),
      setting("kafka.events_topic", &C::kafka, &KafkaConfig::events_topic, non_empty()),
      setting("kafka.items_topic", &C::kafka, &KafkaConfig::items_topic, non_empty()),
      setting("kafka.dlq_topic", &C::kafka, &KafkaConfig::dlq_topic, non_empty()),
      setting("redis.url", &C::redis, &RedisConfig::url, redis_url()),
      setting("redis.prefix", &C::redis, &RedisConfig::prefix),
      setting("redis.timeout_ms", &C::redis, &RedisConfig::timeout_ms, positive<int64_t>()),
      setting("redis.write_interval_ms", &C::redis, &RedisConfig::write_interval_ms, at_least<int64_t>(0)),
      setting("redis.user_ttl_s", &C::redis, &RedisConfig::user_ttl_s, between<int64_t>(0, kMaxEventTimeSpanS)),
      setting("consumer.batch_max_messages", &C::consumer, &ConsumerConfig::batch_max_messages, positive<int64_t>()),
      setting("consumer.batch_max_ms", &C::consumer, &ConsumerConfig::batch_max_ms, positive<int64_t>()),
      setting("consumer.commit_interval_ms", &C::consumer, &ConsumerConfig::commit_interval_ms, at_least<int64_t>(0)),
      setting("consumer.session_timeout_ms", &C::consumer, &ConsumerConfig::session_timeout_ms, at_least<int64_t>(1000)),
      setting("consumer.group_instance_id", &C::consumer, &ConsumerConfig::group_instance_id, group_instance_id()),
      setting("consumer.dedupe_window", &C::consumer, &ConsumerConfig::dedupe_window, at_least<int64_t>(0)),
      setting("consumer.max_future_skew_s", &C::consumer, &ConsumerConfig::max_future_skew_s, event_time_span()),
      setting("consumer.late_horizon_s", &C::consumer, &ConsumerConfig::late_horizon_s, event_time_span()),
      setting("popularity.half_life_s", &C::popularity, &PopularityConfig::half_life_s, positive<double>()),
      setting("popularity.impression_weight", &C::popularity, &PopularityConfig::impression_weight, at_least(0.0)),
      setting("popularity.click_weight", &C::popularity, &PopularityConfig::click_weight, at_least(0.0)),
      setting("popularity.purchase_weight", &C::popularity, &PopularityConfig::purchase_weight, at_least(0.0)),
      setting("producer.rate", &C::producer, &ProducerConfig::rate, at_least(0.0)),
      setting("producer.csv_columns", &C::producer, &ProducerConfig::csv_columns),
      setting("producer.csv_behaviors", &C::producer, &ProducerConfig::csv_behaviors),
      setting("producer.synthetic.seed", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::seed),
      setting("producer.synthetic.users", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::users, positive<int64_t>()),
      setting("producer.synthetic.items", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::items, positive<int64_t>()),
      setting("producer.synthetic.categories", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::categories, positive<int64_t>()),
      setting("producer.synthetic.latent_dim", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::latent_dim, positive<int64_t>()),
      setting("producer.synthetic.impressions", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::impressions, at_least<int64_t>(0)),
      setting("producer.synthetic.slate_size", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::slate_size, positive<int64_t>()),
      setting("producer.synthetic.start_ts_ms", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::start_ts_ms, at_least<int64_t>(0)),
      setting("producer.synthetic.mean_gap_ms", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::mean_gap_ms, at_least<int64_t>(0)),
      setting("producer.synthetic.base_ctr", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::base_ctr, positive<double>()),
      setting("producer.synthetic.base_cvr", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::base_cvr, positive<double>()),
      setting("producer.synthetic.delays", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::delays, one_of({"short", "realistic"})),
      setting("producer.synthetic.click_delay_fast_median_s", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::click_delay_fast_median_s, positive<double>()),
      setting("producer.synthetic.click_delay_slow_median_s", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::click_delay_slow_median_s, positive<double>()),
      setting("producer.synthetic.click_delay_max_s", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::click_delay_max_s, positive<double>()),
      setting("producer.synthetic.purchase_delay_fast_median_s", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::purchase_delay_fast_median_s, positive<double>()),
      setting("producer.synthetic.purchase_delay_slow_median_s", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::purchase_delay_slow_median_s, positive<double>()),
      setting("producer.synthetic.purchase_delay_max_s", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::purchase_delay_max_s, positive<double>()),
      setting("producer.synthetic.click_delay_slow_share", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::click_delay_slow_share, within(0.0, 1.0)),
      setting("producer.synthetic.purchase_delay_slow_share", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::purchase_delay_slow_share, within(0.0, 1.0)),
      setting("producer.synthetic.drift_share", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::drift_share, within(0.0, 1.0)),
      setting("producer.synthetic.drift_at", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::drift_at, within(0.0, 1.0)),
      setting("producer.synthetic.churn_share", &C::producer, &ProducerConfig::synthetic, &SyntheticConfig::churn_share, within(0.0, 0.45)),
      setting("serving.listen", &C::serving, &ServingConfig::listen, non_empty()),
      setting("serving.port", &C::serving, &ServingConfig::port, between<int64_t>(0, 65535)),
      setting("serving.threads", &C::serving, &ServingConfig::threads, between<int64_t>(1, 256)),
      setting("serving.max_k", &C::serving, &ServingConfig::max_k, between<int64_t>(1, 10000)),
      setting("serving.max_body_bytes", &C::serving, &ServingConfig::max_body_bytes, between<int64_t>(1024, 1LL << 30)),
      setting("serving.idle_timeout_s", &C::serving, &ServingConfig::idle_timeout_s, between<int64_t>(1, 86400)),
      setting("serving.auth_token", &C::serving, &ServingConfig::auth_token),
      setting("serving.learner_metrics_port", &C::serving, &ServingConfig::learner_metrics_port, between<int64_t>(0, 65535)),
      setting("learner.click_window_s", &C::learner, &LearnerConfig::click_window_s, event_time_span()),
      setting("learner.purchase_window_s", &C::learner, &LearnerConfig::purchase_window_s, event_time_span()),
      setting("learner.max_pending", &C::learner, &LearnerConfig::max_pending, positive<int64_t>()),
      setting("learner.dedupe_window", &C::learner, &LearnerConfig::dedupe_window, at_least<int64_t>(0)),
      setting("learner.negatives_per_click", &C::learner, &LearnerConfig::negatives_per_click, auto_or_count()),
      setting("learner.negative_sampling", &C::learner, &LearnerConfig::negative_sampling, one_of({"popularity", "uniform"})),
      setting("learner.recent_clicks", &C::learner, &LearnerConfig::recent_clicks, at_least<int64_t>(0)),
      setting("learner.early_clicks", &C::learner, &LearnerConfig::early_clicks),
      setting("learner.feedback", &C::learner, &LearnerConfig::feedback, one_of({"windowed", "fake_negative", "defer"})),
      setting("learner.context_fields", &C::learner, &LearnerConfig::context_fields),
      setting("learner.embedding_dim", &C::learner, &LearnerConfig::embedding_dim, positive<int64_t>()),
      setting("learner.admit_after", &C::learner, &LearnerConfig::admit_after, positive<int64_t>()),
      setting("learner.ttl_s", &C::learner, &LearnerConfig::ttl_s, event_time_span()),
      setting("learner.init_scale", &C::learner, &LearnerConfig::init_scale, at_least(0.0)),
      setting("learner.bias_terms", &C::learner, &LearnerConfig::bias_terms),
      setting("learner.field_mean_init", &C::learner, &LearnerConfig::field_mean_init),
      setting("learner.architecture", &C::learner, &LearnerConfig::architecture, one_of({"mmoe", "shared", "single"})),
      setting("learner.interactions", &C::learner, &LearnerConfig::interactions),
      setting("learner.dot_head", &C::learner, &LearnerConfig::dot_head),
      setting("learner.experts", &C::learner, &LearnerConfig::experts, positive<int64_t>()),
      setting("learner.expert_hidden", &C::learner, &LearnerConfig::expert_hidden, positive<int64_t>()),
      setting("learner.tower_hidden", &C::learner, &LearnerConfig::tower_hidden, positive<int64_t>()),
      setting("learner.tasks", &C::learner, &LearnerConfig::tasks, non_empty()),
      setting("learner.uncertainty_weighting", &C::learner, &LearnerConfig::uncertainty_weighting),
      setting("learner.optimizer", &C::learner, &LearnerConfig::optimizer, one_of({"sgd", "adagrad"})),
      setting("learner.momentum", &C::learner, &LearnerConfig::momentum, at_least(0.0)),
      setting("learner.adagrad_init", &C::learner, &LearnerConfig::adagrad_init, positive<double>()),
      setting("learner.lr_dense", &C::learner, &LearnerConfig::lr_dense, at_least(0.0)),
      setting("learner.lr_embedding", &C::learner, &LearnerConfig::lr_embedding, at_least(0.0)),
      setting("learner.lr_intercept", &C::learner, &LearnerConfig::lr_intercept, at_least(0.0)),
      setting("learner.l2", &C::learner, &LearnerConfig::l2, at_least(0.0)),
      setting("learner.batch_size", &C::learner, &LearnerConfig::batch_size, positive<int64_t>()),
      setting("learner.seed", &C::learner, &LearnerConfig::seed),
      setting("learner.metrics_window", &C::learner, &LearnerConfig::metrics_window, positive<int64_t>()),
      setting("learner.metrics_max_samples", &C::learner, &LearnerConfig::metrics_max_samples, at_least<int64_t>(0)),
      setting("learner.max_users", &C::learner, &LearnerConfig::max_users, between<int64_t>(1, 1'000'000'000)),
      setting("learner.max_items", &C::learner, &LearnerConfig::max_items, between<int64_t>(1, 1'000'000'000)),
      setting("learner.max_embedding_rows", &C::learner, &LearnerConfig::max_embedding_rows,
              between<int64_t>(1, 2'000'000'000)),
      setting("learner.max_held_events", &C::learner, &LearnerConfig::max_held_events,
              between<int64_t>(1, 1'000'000'000)),
      setting("rankings.top_k", &C::rankings, &RankingConfig::top_k, positive<int64_t>()),
      setting("rankings.retrieval_candidates", &C::rankings, &RankingConfig::retrieval_candidates, at_least<int64_t>(0)),
      setting("rankings.approximate_retrieval_items", &C::rankings, &RankingConfig::approximate_retrieval_items,
              at_least<int64_t>(0)),
      setting("rankings.approximate_retrieval_rebuild_s", &C::rankings, &RankingConfig::approximate_retrieval_rebuild_s,
              positive<int64_t>()),
      setting("rankings.popular_candidates", &C::rankings, &RankingConfig::popular_candidates, at_least<int64_t>(0)),
      setting("rankings.value_weight", &C::rankings, &RankingConfig::value_weight, at_least(0.0)),
      setting("rankings.recent_category_boost", &C::rankings, &RankingConfig::recent_category_boost, at_least(0.0)),
      setting("rankings.category_candidates", &C::rankings, &RankingConfig::category_candidates, at_least<int64_t>(0)),
      setting("rankings.brand_candidates", &C::rankings, &RankingConfig::brand_candidates, at_least<int64_t>(0)),
      setting("rankings.recent_candidates", &C::rankings, &RankingConfig::recent_candidates, at_least<int64_t>(0)),
      setting("rankings.reshow_viewed", &C::rankings, &RankingConfig::reshow_viewed),
      setting("rankings.reshow_bought", &C::rankings, &RankingConfig::reshow_bought),
      setting("rankings.recent_boost", &C::rankings, &RankingConfig::recent_boost, at_least(0.0)),
      setting("rankings.covisit_candidates", &C::rankings, &RankingConfig::covisit_candidates, at_least<int64_t>(0)),
      setting("rankings.covisit_boost", &C::rankings, &RankingConfig::covisit_boost, at_least(0.0)),
      setting("rankings.covisit_second_step", &C::rankings, &RankingConfig::covisit_second_step,
              at_least<int64_t>(0)),
      setting("rankings.blend", &C::rankings, &RankingConfig::blend, one_of({"learned", "fixed"})),
      setting("rankings.blend_window", &C::rankings, &RankingConfig::blend_window, positive<int64_t>()),
      setting("rankings.blend_served_users", &C::rankings, &RankingConfig::blend_served_users, at_least<int64_t>(0)),
      setting("rankings.covisit_sources", &C::rankings, &RankingConfig::covisit_sources, at_least<int64_t>(0)),
      setting("rankings.covisit_window_items", &C::rankings, &RankingConfig::covisit_window_items,
              at_least<int64_t>(0)),
      setting("rankings.covisit_window_s", &C::rankings, &RankingConfig::covisit_window_s,
              event_time_span()),
      setting("rankings.covisit_max_neighbours", &C::rankings, &RankingConfig::covisit_max_neighbours,
              positive<int64_t>()),
      setting("rankings.covisit_max_items", &C::rankings, &RankingConfig::covisit_max_items, positive<int64_t>()),
      // A billion members per key is past any use, and keeps the script's arithmetic exact.
      setting("rankings.covisit_redis_max_members", &C::rankings, &RankingConfig::covisit_redis_max_members,
              between<int64_t>(0, 1'000'000'000)),
      setting("rankings.refresh_interval_ms", &C::rankings, &RankingConfig::refresh_interval_ms, at_least<int64_t>(0)),
      setting("rankings.impression_refresh_ms", &C::rankings, &RankingConfig::impression_refresh_ms,
              at_least<int64_t>(0)),
      setting("rankings.explain", &C::rankings, &RankingConfig::explain),
      setting("checkpoint.path", &C::checkpoint, &CheckpointConfig::path),
      setting("checkpoint.interval_s", &C::checkpoint, &CheckpointConfig::interval_s, positive<int64_t>()),
      setting("log.level", &C::log, &LogConfig::level, one_of({"trace", "debug", "info", "warn", "error"})),
  };
  return settings;
}

constexpr std::string_view kKafkaProperties = "kafka.properties.";

// Applies one raw key=value to `config`; `origin` says where it came from.
Status apply(Config& config, const std::string& key, const std::string& raw, const std::string& origin) {
  if (key.rfind(kKafkaProperties, 0) == 0 && key.size() > kKafkaProperties.size()) {
    config.kafka.properties[key.substr(kKafkaProperties.size())] = raw;
    return {};
  }
  for (const Setting& s : schema()) {
    if (s.key != key) continue;
    if (Status st = s.parse(config, raw); !st.ok()) return Error{origin + ": " + key + ": " + st.message()};
    return {};
  }
  return Error{origin + ": unknown setting \"" + key + "\" (see configs/default.yaml for every setting)"};
}

// Flattens nested YAML maps into dotted keys.
Status flatten(const YAML::Node& node, const std::string& prefix, const std::string& origin,
               std::vector<std::pair<std::string, std::string>>& out) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      // A key that is a list or a map (`? [a, b]: 1`) is no setting's name.
      // Found by tests/fuzz/config_fuzz: as<std::string>() threw, uncaught.
      if (!kv.first.IsScalar())
        return Error{origin + ": " + (prefix.empty() ? std::string("a top-level key") : prefix + ": a key") +
                     " is a list or a map; setting names are plain words"};
      std::string key = prefix.empty() ? kv.first.as<std::string>() : prefix + "." + kv.first.as<std::string>();
      if (Status s = flatten(kv.second, key, origin, out); !s.ok()) return s;
    }
    return {};
  }
  if (node.IsScalar()) {
    out.emplace_back(prefix, node.as<std::string>());
    return {};
  }
  if (node.IsNull()) return Error{origin + ": " + prefix + ": has no value"};
  return Error{origin + ": " + prefix + ": expected a value or a map, got a list"};
}

std::string env_name(const std::string& key) {
  std::string name = "STREAMREC_";
  for (char c : key) name.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return name;
}

}  // namespace

Result<Config> load_config(const ConfigSources& sources, std::vector<std::string>* warnings) {
  Config config;

  if (!sources.file.empty()) {
    YAML::Node root;
    try {
      root = YAML::LoadFile(sources.file);
    } catch (const YAML::BadFile&) {
      return Error{"config file " + sources.file + ": cannot be read"};
    } catch (const YAML::Exception& e) {
      return Error{"config file " + sources.file + ": " + e.what()};
    }
    if (!root.IsNull()) {
      if (!root.IsMap()) return Error{"config file " + sources.file + ": expected a map of settings"};
      std::vector<std::pair<std::string, std::string>> entries;
      if (Status s = flatten(root, "", sources.file, entries); !s.ok()) return Error{s.message()};
      for (auto& [key, raw] : entries)
        if (Status s = apply(config, key, raw, sources.file); !s.ok()) return Error{s.message()};
    }
  }

  const std::string properties_env = env_name(std::string(kKafkaProperties));  // STREAMREC_KAFKA_PROPERTIES_
  for (const std::string& entry : sources.env) {
    if (entry.rfind("STREAMREC_", 0) != 0) continue;
    size_t eq = entry.find('=');
    if (eq == std::string::npos) continue;
    std::string name = entry.substr(0, eq), raw = entry.substr(eq + 1);
    std::string origin = "environment variable " + name;
    std::string key;
    if (name.rfind(properties_env, 0) == 0 && name.size() > properties_env.size()) {
      // librdkafka names use dots: SOCKET_TIMEOUT_MS -> socket.timeout.ms.
      key = std::string(kKafkaProperties);
      for (char c : name.substr(properties_env.size()))
        key.push_back(c == '_' ? '.' : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else {
      for (const Setting& s : schema())
        if (env_name(s.key) == name) key = s.key;
      if (key.empty()) {
        if (warnings)
          warnings->push_back(origin + " names no setting; ignored (see configs/default.yaml; a Kubernetes Service "
                                       "named streamrec sets STREAMREC_PORT and the like)");
        continue;
      }
    }
    if (Status s = apply(config, key, raw, origin); !s.ok()) return Error{s.message()};
  }

  for (const std::string& entry : sources.overrides) {
    size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0)
      return Error{"--set " + entry + ": expected key=value"};
    if (Status s = apply(config, entry.substr(0, eq), entry.substr(eq + 1), "--set"); !s.ok())
      return Error{s.message()};
  }
  return config;
}

std::vector<std::string> process_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  return env;
}

std::vector<std::pair<std::string, std::string>> describe(const Config& config) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Setting& s : schema()) out.emplace_back(s.key, s.print(config));
  for (auto& [name, value] : config.kafka.properties) out.emplace_back(std::string(kKafkaProperties) + name, value);
  return out;
}

}  // namespace streamrec

namespace streamrec {

bool is_secret_setting(std::string_view key) {
  if (key == "serving.auth_token") return true;
  if (key.rfind(kKafkaProperties, 0) != 0) return false;
  std::string name;
  for (char c : key.substr(kKafkaProperties.size())) name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  for (std::string_view word : {"password", "secret", "key"})
    if (name.find(word) != std::string::npos) return true;
  return false;
}

std::string redact_url(std::string_view url) {
  // A URL whose scheme is mistyped ("redis:/u:pw@h") still hides what looks
  // like a password: without "://", the user part starts at the beginning.
  size_t scheme = url.find("://");
  const size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
  // As parse_redis_url reads it: the user part ends at the last '@'.
  size_t at = url.rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(url);
  std::string_view user_part = url.substr(start, at - start);
  size_t colon = user_part.find(':');
  std::string user = colon == std::string_view::npos ? "" : std::string(user_part.substr(0, colon)) + ":";
  return std::string(url.substr(0, start)) + user + "***" + std::string(url.substr(at));
}

std::string redacted(const std::string& key, const std::string& value) {
  if (key == "redis.url") return redact_url(value);
  if (is_secret_setting(key) && !value.empty()) return "***";
  return value;
}

}  // namespace streamrec
