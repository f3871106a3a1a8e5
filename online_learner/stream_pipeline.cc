#include "online_learner/stream_pipeline.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "online_learner/features.h"

namespace streamrec::learner {
namespace {

using Clock = std::chrono::steady_clock;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string recent_json(const std::deque<std::string>& recent) {
  std::string out = "[";
  for (size_t i = 0; i < recent.size(); ++i) {
    if (i) out += ",";
    append_json_string(out, recent[i]);
  }
  return out + "]";
}

// The AUC of the named series over its last `window` samples; NaN if absent.
double window_auc(const Learner& learner, const std::string& name, size_t window) {
  for (const auto& [series_name, series] : learner.series())
    if (series_name == name && series.size() > 0) return series.window(window).auc;
  return std::nan("");
}

// For Redis (any text) and for JSON (null when undefined).
std::string number(double v) { return std::isfinite(v) ? fmt::format("{:.6f}", v) : "nan"; }
std::string json_number(double v) { return std::isfinite(v) ? fmt::format("{:.6f}", v) : "null"; }

}  // namespace

Result<std::unique_ptr<StreamPipeline>> StreamPipeline::create(const Config& config) {
  auto learner = Learner::create(config.learner);
  if (!learner.ok()) return learner.error();
  std::unique_ptr<StreamPipeline> pipeline(new StreamPipeline(config, std::move(learner).value()));
  return pipeline;
}

StreamPipeline::StreamPipeline(const Config& config, std::unique_ptr<Learner> learner)
    : config_(config),
      keys_(config.redis.prefix),
      learner_(std::move(learner)),
      ranker_(config.rankings, config.popularity, *learner_),
      effects_(RedisKeys(config.redis.prefix), config.popularity) {}

Status StreamPipeline::connect() {
  if (redis_ && !redis_->broken()) return {};
  redis_.reset();
  auto conn = RedisConnection::connect(config_.redis.url, static_cast<int>(config_.redis.timeout_ms));
  if (!conn.ok()) return Error{conn.error().message};
  redis_.emplace(std::move(conn).value());
  return {};
}

void StreamPipeline::on_event(const ConsumedEvent& consumed) {
  const Event& event = consumed.event;
  const MessageOrigin& origin = consumed.origin;
  effects_.add(event, origin.source, origin.offset, batch_effects_);
  learner_->add_event(event);
  ranker_.add_event(event);

  UserState& user = users_[event.user_id];
  if (!event.context.empty()) user.context = event.context;
  user.last_ts_ms = std::max(user.last_ts_ms, event.ts_ms);
  if (event.type == EventType::kClick) {
    // Real-time state: the click counts for rankings now, not when its
    // labels resolve.
    auto& recent = user.recent;
    recent.erase(std::remove(recent.begin(), recent.end(), event.item_id), recent.end());
    recent.push_front(event.item_id);
    while (recent.size() > static_cast<size_t>(std::max<int64_t>(1, config_.learner.recent_clicks)))
      recent.pop_back();
    batch_effects_.set(keys_.user_features(event.user_id), origin.source, origin.offset, "recent",
                       recent_json(recent));
  }
  if (!user.dirty) {
    user.dirty = true;
    user.oldest_pending_kafka_ms = origin.kafka_ts_ms;
    dirty_users_.push_back(event.user_id);
  }
  touched_users_[event.user_id] = origin;
  touched_items_[event.item_id] = origin;
}

void StreamPipeline::add_embedding(const std::string& key, uint64_t feature, const MessageOrigin& origin) {
  const EmbeddingTable& table = learner_->table();
  uint32_t row = table.find(feature);
  if (row == EmbeddingTable::kNoRow) return;
  // float32 little-endian, as DESIGN.md specifies (this machine is little-endian).
  const char* bytes = reinterpret_cast<const char*>(table.row(row));
  batch_effects_.set(key, origin.source, origin.offset, "emb",
                     std::string_view(bytes, sizeof(float) * static_cast<size_t>(config_.learner.embedding_dim)));
}

Status StreamPipeline::apply(const ConsumedBatch& batch) {
  batch_effects_.clear();
  touched_users_.clear();
  touched_items_.clear();
  for (const ConsumedItem& consumed : batch.items) {
    learner_->add_item(consumed.item);
    ranker_.update_item(consumed.item);
    effects_.add(consumed.item, consumed.origin.source, consumed.origin.offset, batch_effects_);
  }
  for (const ConsumedEvent& consumed : batch.events) on_event(consumed);
  for (auto& [user, origin] : touched_users_)
    add_embedding(keys_.user_features(user), FeatureEncoder::user_key(user), origin);
  for (auto& [item, origin] : touched_items_)
    add_embedding(keys_.item_features(item), FeatureEncoder::item_key(item), origin);

  if (Status s = connect(); !s.ok()) return s;
  if (Status s = writer_.apply(*redis_, batch_effects_); !s.ok()) return s;
  stats_.events += static_cast<int64_t>(batch.events.size());
  stats_.items += static_cast<int64_t>(batch.items.size());
  if (Status s = refresh_rankings(); !s.ok()) spdlog::warn("{}", s.message());
  return {};
}

Status StreamPipeline::refresh_rankings() {
  if (dirty_users_.empty()) return {};
  auto now = Clock::now();
  const auto interval = std::chrono::milliseconds(config_.rankings.refresh_interval_ms);
  std::vector<Ranking> rankings;
  std::vector<std::string> written, waiting;
  for (const std::string& id : dirty_users_) {
    UserState& user = users_[id];
    if (now - user.last_refresh < interval) {
      waiting.push_back(id);
      continue;
    }
    std::vector<std::string> recent(user.recent.begin(), user.recent.end());
    auto ranking = ranker_.rank(id, recent, user.context, user.last_ts_ms);
    user.last_refresh = now;
    if (ranking.empty()) {
      ++stats_.rankings_skipped;
      user.dirty = false;
      continue;
    }
    rankings.push_back({keys_.user_rankings(id), std::move(ranking)});
    written.push_back(id);
  }
  dirty_users_ = std::move(waiting);
  if (rankings.empty()) return {};

  if (Status s = connect(); !s.ok()) return s;
  Status s = ranking_writer_.write(*redis_, rankings);
  int64_t acked = wall_ms();
  for (const std::string& id : written) {
    UserState& user = users_[id];
    if (!s.ok()) {  // try again on the next tick
      dirty_users_.push_back(id);
      continue;
    }
    if (user.oldest_pending_kafka_ms >= 0)
      stats_.freshness_ms.record(static_cast<double>(acked - user.oldest_pending_kafka_ms));
    user.dirty = false;
    user.oldest_pending_kafka_ms = -1;
  }
  if (!s.ok()) {
    ++stats_.ranking_write_failures;
    return s;
  }
  stats_.rankings_written += static_cast<int64_t>(written.size());
  return {};
}

Status StreamPipeline::write_model_summary() {
  uint64_t samples = learner_->samples_learned();
  if (samples != samples_at_last_summary_) ++model_version_;
  samples_at_last_summary_ = samples;
  size_t window = static_cast<size_t>(config_.learner.metrics_window);
  if (Status s = connect(); !s.ok()) return s;
  auto reply = redis_->command(
      {"HSET", keys_.model(), "version", std::to_string(model_version_), "events_trained", std::to_string(samples),
       "auc_click", number(window_auc(*learner_, "click", window)), "auc_ctcvr",
       number(window_auc(*learner_, "ctcvr", window)), "updated_ts", std::to_string(wall_ms())});
  if (!reply.ok()) return Error{"redis: cannot write " + keys_.model() + ": " + reply.error().message};
  return {};
}

Status StreamPipeline::tick() {
  Status status = refresh_rankings();
  auto now = Clock::now();
  if (now - last_summary_ >= std::chrono::seconds(1)) {
    last_summary_ = now;
    if (Status s = write_model_summary(); !s.ok() && status.ok()) status = s;
  }
  if (now - last_status_ >= std::chrono::seconds(5)) {
    last_status_ = now;
    const auto& f = stats_.freshness_ms;
    spdlog::info("learn pipeline: {} samples learned, {} rankings written, freshness p50 {:.0f} ms p99 {:.0f} ms "
                 "max {:.0f} ms",
                 learner_->samples_learned(), stats_.rankings_written, f.percentile(0.5), f.percentile(0.99), f.max());
  }
  return status;
}

std::string StreamPipeline::stats_json() const {
  const auto& f = stats_.freshness_ms;
  size_t window = static_cast<size_t>(config_.learner.metrics_window);
  return fmt::format(
      "{{\"events\":{},\"items\":{},\"samples_learned\":{},\"rankings_written\":{},\"rankings_skipped\":{},"
      "\"ranking_write_failures\":{},\"freshness_ms\":{{\"count\":{},\"p50\":{:.1f},\"p99\":{:.1f},\"max\":{:.1f}}},"
      "\"auc_click_window\":{},\"auc_ctcvr_window\":{}}}",
      stats_.events, stats_.items, learner_->samples_learned(), stats_.rankings_written, stats_.rankings_skipped,
      stats_.ranking_write_failures, f.count(), f.percentile(0.5), f.percentile(0.99), f.max(),
      json_number(window_auc(*learner_, "click", window)), json_number(window_auc(*learner_, "ctcvr", window)));
}

}  // namespace streamrec::learner
