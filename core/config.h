// Settings for every streamrec command, and how they are layered.
//
// A Config starts from the defaults written below (configs/default.yaml lists
// the same values with comments; a test keeps the two equal). Then, in order,
// each layer overrides the one before:
//   1. the YAML file given with --config,
//   2. environment variables STREAMREC_<KEY> (dots become underscores,
//      e.g. STREAMREC_REDIS_URL for redis.url),
//   3. --set key=value flags.
// librdkafka properties pass through unchecked under kafka.properties.<name>
// (STREAMREC_KAFKA_PROPERTIES_SOCKET_TIMEOUT_MS -> socket.timeout.ms).
//
// An unknown key or a bad value is an Error that names the key and where it
// came from; nothing is silently ignored. Config is a plain value: copy it
// freely, share it read-only across threads.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace streamrec {

struct KafkaConfig {
  std::string bootstrap_servers = "127.0.0.1:9092";
  std::string group_id = "streamrec";
  std::string events_topic = "events";
  std::string items_topic = "items";
  std::string dlq_topic = "events.dlq";
  std::map<std::string, std::string> properties;  // librdkafka pass-through
};

struct RedisConfig {
  std::string url = "redis://127.0.0.1:6379/0";
  std::string prefix = "sr:";
  int64_t timeout_ms = 5000;
  int64_t write_interval_ms = 1000;  // counters & co. summed over this long, then written at once
  // Redis user keys (sr:{u:<id>}:f, :rec, :why) expire this long after the
  // user's last write (wall time, Redis's EXPIRE); 0 = never.
  int64_t user_ttl_s = 0;
};

struct ConsumerConfig {
  int64_t batch_max_messages = 5000;  // one Redis round trip + commit per batch
  int64_t batch_max_ms = 20;          // ...or after this long, whichever first
  int64_t commit_interval_ms = 1000;  // offsets committed at most this often (0: every batch)
  int64_t session_timeout_ms = 10000;  // group liveness; a restarted consumer rejoins after ~this
  // Static group membership (Kafka's group.instance.id, KIP-345): a learner
  // restarted with the same id takes its partitions back at once instead of
  // after the dead one's session timeout. Unique per learner; "" = dynamic.
  std::string group_instance_id;
  int64_t dedupe_window = 200000;  // recent event_ids remembered to drop duplicates
  // Input rules (docs/events.md): an event or item more than this ahead of
  // the wall clock is dead-lettered (future_timestamp); 0: no check.
  int64_t max_future_skew_s = 600;
  // An event this much older than the newest one consumed is counted as
  // late (stats: late); it is applied all the same. 0: never late.
  int64_t late_horizon_s = 86400;
};

// Every duration in seconds that is added to an event time (windows, TTLs,
// horizons) is at most this, so that ts + duration never overflows
// (ts <= kMaxTimestampMs, core/event.h).
inline constexpr int64_t kMaxEventTimeSpanS = 10LL * 366 * 86400;

struct PopularityConfig {
  double half_life_s = 3600;  // event-time half-life of sr:pop scores
  double impression_weight = 0.1;
  double click_weight = 1.0;
  double purchase_weight = 5.0;
};

struct SyntheticConfig {
  int64_t seed = 42;
  int64_t users = 10000;
  int64_t items = 2000;
  int64_t categories = 20;
  int64_t latent_dim = 8;
  int64_t impressions = 100000;      // stream length in impressions
  int64_t slate_size = 5;            // impressions per request
  int64_t start_ts_ms = 1767225600000;  // 2026-01-01T00:00:00Z
  int64_t mean_gap_ms = 50;          // event-time gap between requests
  double base_ctr = 0.05;            // mean click probability
  double base_cvr = 0.10;            // mean purchase probability given a click
  // Label delays: "realistic" (each stage a mixture of two log-normals,
  // fast and slow, capped at *_max_s) or "short" (click 1 s + Exp(30 s)
  // capped, purchase 5 s + Exp(5 min) capped: the original stream).
  std::string delays = "realistic";
  double click_delay_fast_median_s = 10;
  double click_delay_slow_median_s = 180;
  double click_delay_slow_share = 0.3;
  double click_delay_max_s = 3600;
  double purchase_delay_fast_median_s = 300;
  double purchase_delay_slow_median_s = 10800;
  double purchase_delay_slow_share = 0.5;
  double purchase_delay_max_s = 86400;
  double drift_share = 0.2;  // share of users whose taste changes once ...
  double drift_at = 0.6;    // ... when this share of the impressions has been shown
  double churn_share = 0.1;  // share of items launched mid-stream; as many retire
};

struct ProducerConfig {
  double rate = 0;  // events per second; 0 = as fast as possible
  SyntheticConfig synthetic;
  // --format csv: the column mapping and the behaviours (docs/datasets.md).
  std::string csv_columns = "user=user_id,item=item_id,ts=ts,ts_unit=s";
  std::string csv_behaviors = "view=click,click=click,purchase=purchase";
};

struct ServingConfig {
  std::string listen = "127.0.0.1";
  int64_t port = 8080;
  int64_t threads = 2;                 // HTTP worker threads, each with its own Redis connection
  int64_t max_k = 100;                 // largest ?k= of GET /v1/users/{id}/recommendations
  int64_t max_body_bytes = 1048576;    // larger request bodies get 413
  int64_t idle_timeout_s = 30;         // a connection silent this long is closed
  std::string auth_token;              // bearer token for writes (POST); "" = writes refused. A secret.
  int64_t learner_metrics_port = 0;    // `streamrec learn` serves /metrics on serving.listen:this; 0 = off
};

// The online learner (online_learner/, DESIGN.md "Model" and "Samples and labels").
struct LearnerConfig {
  // Samples and labels.
  int64_t click_window_s = 3600;         // a click joins an impression at most this much later
  int64_t purchase_window_s = 86400;     // a purchase joins a click at most this much later
  int64_t max_pending = 1000000;         // pending impressions kept; the oldest are flushed beyond
  int64_t dedupe_window = 1000000;       // recent event_ids remembered to drop duplicates
  // Impression-less streams: catalog negatives per click that joins no
  // impression; "auto" = 4 while the stream has shown no impression, else a
  // count (0 = off).
  std::string negatives_per_click = "auto";
  std::string negative_sampling = "popularity";  // popularity (^0.75, logQ-corrected) | uniform
  int64_t recent_clicks = 5;             // the recent-click bag: last N clicked items per user
  bool early_clicks = true;              // windowed: learn a click at the click deadline, its purchase later
  std::string feedback = "fake_negative";  // windowed, fake_negative (FNW), defer: how labels reach the learner
  std::string context_fields = "device,page";  // context keys used as features
  // Embeddings.
  int64_t embedding_dim = 16;
  int64_t admit_after = 1;               // sightings of a key before it gets a row
  int64_t ttl_s = 0;                     // evict rows unseen this long (event time); 0 = never
  double init_scale = 0.05;              // embedding init: uniform in [-s, s]
  bool bias_terms = false;               // each row also holds one logit bias per task (wide part)
  bool field_mean_init = true;           // a new row starts from its field's mean row (+ the random init)
  // Model.
  std::string architecture = "mmoe";     // mmoe, shared, single
  bool interactions = true;              // pairwise dot products of field embeddings (DLRM)
  bool dot_head = false;                 // also map the dot products linearly to each logit
  int64_t experts = 4;
  int64_t expert_hidden = 64;
  int64_t tower_hidden = 32;
  std::string tasks = "click:binary:1,purchase:esmm:1";  // label:kind:weight, kinds binary|esmm|regression
  bool uncertainty_weighting = true;     // learn per-task weights (Kendall et al.)
  // Optimization.
  std::string optimizer = "adagrad";     // sgd, adagrad
  double momentum = 0;                   // sgd only
  double adagrad_init = 1e-5;             // adagrad: initial squared-gradient sum
  double lr_dense = 0.01;
  double lr_embedding = 0.2;
  double lr_intercept = 0.3;             // each task's output bias (its base rate)
  double l2 = 1e-6;                      // on dense weights and on touched embedding rows
  int64_t batch_size = 256;
  int64_t seed = 1;
  // Progressive validation.
  int64_t metrics_window = 100000;       // samples in the sliding-window metrics
  int64_t metrics_max_samples = 5000000; // pairs kept per series (8 bytes each); 0 = all
  // Bounded memory (docs/operations.md, "Memory"): each per-user, per-item
  // and per-partition structure keeps at most this many entries and evicts
  // the least recently used. Not part of the model: changing them keeps a
  // checkpoint usable.
  int64_t max_users = 1000000;            // users with real-time state (recent clicks, history, debounce)
  int64_t max_items = 2000000;            // items in the catalog and the per-item counts
  int64_t max_embedding_rows = 4000000;   // embedding rows (and keys awaiting admission)
  int64_t max_held_events = 200000;       // events the event-time merger holds; beyond, the oldest go on
};

struct RankingConfig {
  int64_t top_k = 50;                   // items written per user (sr:{u:<id>}:rec)
  int64_t retrieval_candidates = 100;   // candidates by embedding retrieval...
  // ...searched in an approximate index (ranking/retrieval_index.h) on
  // catalogs of at least this many available items (0: never), rebuilt in
  // the background every approximate_retrieval_rebuild_s index refreshes
  // (seconds in `learn`, and at least ten builds' time); smaller catalogs
  // score every item.
  int64_t approximate_retrieval_items = 200000;
  int64_t approximate_retrieval_rebuild_s = 300;
  int64_t popular_candidates = 20;      // ...plus the most popular, reranked by the model
  double value_weight = 0.1;            // score = pCTR + value_weight * pCTCVR * price
  double recent_category_boost = 30.0;  // ...times (1 + this * share of the user's recent clicks in the item's category)
  int64_t brand_candidates = 20;        // candidates from the brands of the user's recent clicks
  int64_t category_candidates = 200;    // candidates from the categories of the user's recent clicks
  // The user's own items (re-consumption) and what was viewed with them.
  int64_t recent_candidates = 10;       // the user's last distinct viewed items
  bool reshow_viewed = true;            // viewed items may be ranked again
  bool reshow_bought = false;           // bought items may be ranked again
  double recent_boost = 30;             // score * (1 + this / (1 + position in the user's viewed list) + ...)
  int64_t covisit_candidates = 50;      // items most co-visited with the user's last viewed items
  double covisit_boost = 10;            // ... + this * co-visits / the most co-visits of any candidate)
  int64_t covisit_second_step = 10;     // the most co-visited items whose own co-visits count, at half strength
  // How the signals above are weighed: "learned" (online, from the clicks
  // that follow served rankings: ranking/learned_blend.h; the boosts above
  // are then only its starting point) or "fixed" (the formula above).
  std::string blend = "learned";
  int64_t blend_window = 512;           // the last served lists (clicks) the learned blend is fitted to
  int64_t blend_served_users = 2048;    // users whose last served candidates are kept to learn from
  int64_t covisit_sources = 5;          // the user's last viewed items whose co-visits count
  int64_t covisit_window_items = 5;     // a view co-visits the viewer's last this many distinct items...
  int64_t covisit_window_s = 3600;      // ...viewed at most this long before
  int64_t covisit_max_neighbours = 50;  // the learner keeps at most this many co-visited items per item...
  int64_t covisit_max_items = 100000;   // ...for at most this many items
  // Redis keeps the counts too (sr:{i:<id>}:cv), each key its this many most
  // co-visited items (trimmed past a quarter more; 0 = every pair, unbounded).
  int64_t covisit_redis_max_members = 100;
  int64_t refresh_interval_ms = 25;     // at most one refresh per user this often (debounce)
  int64_t impression_refresh_ms = 30000;  // impressions and purchases refresh only rankings older than this
  bool explain = true;                  // write why each item is ranked beside the ranking (sr:{u:<id>}:why)
};

struct CheckpointConfig {
  std::string path;          // where `streamrec learn` keeps its state; "" = no checkpoints
  int64_t interval_s = 30;   // how often it is rewritten while learning
};

struct LogConfig {
  std::string level = "info";  // trace, debug, info, warn, error
};

struct Config {
  KafkaConfig kafka;
  RedisConfig redis;
  ConsumerConfig consumer;
  PopularityConfig popularity;
  ProducerConfig producer;
  ServingConfig serving;
  LearnerConfig learner;
  RankingConfig rankings;
  CheckpointConfig checkpoint;
  LogConfig log;
};

// Where settings come from, in increasing precedence.
struct ConfigSources {
  std::string file;                    // YAML; empty = defaults only
  std::vector<std::string> env;        // "NAME=value" entries, e.g. from environ
  std::vector<std::string> overrides;  // "key=value" from --set
};

// An unknown STREAMREC_* environment variable is not an error (a Kubernetes
// Service named streamrec injects STREAMREC_PORT and friends): it is named,
// without its value, in `warnings` (when given) and otherwise ignored.
Result<Config> load_config(const ConfigSources& sources, std::vector<std::string>* warnings = nullptr);

// The environment of this process as "NAME=value" strings.
std::vector<std::string> process_environment();

// Every setting as (key, value) in schema order, secrets included: the
// tests compare it with configs/default.yaml. `streamrec config` prints it
// through redacted().
std::vector<std::pair<std::string, std::string>> describe(const Config& config);

// Secrets never reach a log line, an error message or `streamrec config`:
// whether a setting holds one (a kafka.properties.* whose name says
// password, secret or key: sasl.password, ssl.key.password, ...), `url`
// with the password of its user part replaced by *** (redis://user:***@host),
// and a setting's value as it may be shown.
bool is_secret_setting(std::string_view key);
std::string redact_url(std::string_view url);
std::string redacted(const std::string& key, const std::string& value);

}  // namespace streamrec
