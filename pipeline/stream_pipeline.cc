#include "pipeline/stream_pipeline.h"

#include <fmt/format.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <tuple>

#include "core/wall_clock.h"
#include "online_learner/byte_io.h"
#include "online_learner/checkpoint.h"
#include "online_learner/features.h"

namespace streamrec::pipeline {

using learner::ByteReader;
using learner::ByteWriter;
using learner::EmbeddingTable;
using learner::FeatureEncoder;
using learner::Learner;
using learner::MetricSeries;
using learner::Sample;
using learner::Scores;
using learner::read_newest_checkpoint;
using learner::write_checkpoint_file;

namespace {

using Clock = std::chrono::steady_clock;

std::string recent_json(const std::deque<std::string>& recent) {
  std::string out = "[";
  for (size_t i = 0; i < recent.size(); ++i) {
    if (i) out += ",";
    append_json_string(out, recent[i]);
  }
  return out + "]";
}

// The learner's series of that name; an empty one if it has none. Read
// under the model lock: callers copy what they score (copy_last, catch_up),
// so that an AUC is computed after the lock is released, not while the
// model's thread waits.
const MetricSeries& find_series(const Learner& learner, const std::string& name) {
  static const MetricSeries kNone;
  for (const auto& [series_name, series] : learner.series())
    if (series_name == name) return series;
  return kNone;
}

// Its AUC over the last `window` samples (0: all); NaN when undefined. Only
// the AUC: the series' other summaries (log loss, calibration) cost a log
// per sample.
double auc(const MetricSeries& series, size_t window = 0) {
  const size_t n = series.size();
  return series.auc(window ? n - std::min(n, window) : 0, n);
}

// For Redis (any text) and for JSON (null when undefined).
std::string number(double v) { return std::isfinite(v) ? fmt::format("{:.6f}", v) : "nan"; }
std::string json_number(double v) { return std::isfinite(v) ? fmt::format("{:.6f}", v) : "null"; }

}  // namespace

Result<std::unique_ptr<StreamPipeline>> StreamPipeline::create(const Config& config) {
  auto learner = Learner::create(config.learner);
  if (!learner.ok()) return learner.error();
  std::unique_ptr<StreamPipeline> pipeline(new StreamPipeline(config, std::move(learner).value()));
  StreamPipeline* self = pipeline.get();
  self->learner_->set_sink([self](const Sample& sample, const Scores&) {
    self->learned_users_.insert(sample.user_id);
    self->learned_items_.insert(sample.item_id);
  });
  if (Status s = pipeline->restore_checkpoint(); !s.ok()) return Error{s.message()};
  pipeline->model_ = std::make_unique<ModelThread>(config, *pipeline->learner_, pipeline->ranker_);
  return pipeline;
}

StreamPipeline::~StreamPipeline() = default;

StreamPipeline::StreamPipeline(const Config& config, std::unique_ptr<Learner> learner)
    : config_(config),
      keys_(config.redis.prefix),
      learner_(std::move(learner)),
      ranker_(config.rankings, config.popularity, *learner_),
      effects_(keys_, config.popularity),
      effects_writer_(config.redis.url, static_cast<int>(config.redis.timeout_ms), keys_.marks()) {}

void StreamPipeline::on_event(const ConsumedEvent& consumed, Clock::time_point now) {
  const Event& event = consumed.event;
  const MessageOrigin& origin = consumed.origin;
  effects_.add(event, origin.source, origin.offset, pending_effects_);
  merger_.push({origin.topic, origin.partition}, origin.offset, event);

  UserState& user = users_[event.user_id];
  if (user.observe(event, config_.learner.recent_clicks))
    pending_effects_.set(keys_.user_features(event.user_id), origin.source, origin.offset, "recent",
                         recent_json(user.recent));
  // A click changes what the ranking is computed from (the recent clicks,
  // their categories): it asks for a fresh ranking. An impression (what the
  // app just showed) or a purchase (of an item clicked before) changes it
  // only through the model, which learns from them later: they ask only
  // when the ranking is missing or old (rankings.impression_refresh_ms).
  bool asks_for_ranking = event.type == EventType::kClick ||
                          now - user.last_refresh >= std::chrono::milliseconds(config_.rankings.impression_refresh_ms);
  if (asks_for_ranking && !user.dirty) {
    user.dirty = true;
    user.oldest_pending_kafka_ms = origin.kafka_ts_ms;
    dirty_users_.push_back(event.user_id);
  }
}

void StreamPipeline::add_embeddings(std::unique_lock<std::mutex>& model_lock, StateWrites& state) {
  // float32 little-endian, as DESIGN.md specifies (this machine is
  // little-endian). Embeddings are recomputed state, like rankings: plain
  // HSETs, overwritten whenever the model changes them. Under the model lock
  // only the rows are copied; the commands (a key and a Redis buffer each,
  // for some ten thousand users a second) are built after it is released.
  std::unordered_set<std::string> users, items;
  users.swap(learned_users_);
  items.swap(learned_items_);
  const EmbeddingTable& table = learner_->table();
  const size_t bytes = sizeof(float) * static_cast<size_t>(config_.learner.embedding_dim);
  std::string rows;
  std::vector<std::string> keys;
  auto copy = [&](std::string key, uint64_t feature) {
    uint32_t row = table.find(feature);
    if (row == EmbeddingTable::kNoRow) return;
    rows.append(reinterpret_cast<const char*>(table.row(row)), bytes);
    keys.push_back(std::move(key));
  };
  for (const std::string& user : users) copy(keys_.user_features(user), FeatureEncoder::user_key(user));
  for (const std::string& item : items) copy(keys_.item_features(item), FeatureEncoder::item_key(item));
  model_lock.unlock();
  for (size_t i = 0; i < keys.size(); ++i) state.hset(keys[i], {{"emb", std::string_view(rows.data() + i * bytes, bytes)}});
}

void StreamPipeline::take(const ConsumedBatch& batch) {
  auto advance = [&](const MessageOrigin& origin) {
    positions_[{origin.topic, origin.partition}] = origin.offset + 1;
    positions_changed_ = true;
  };
  for (const ConsumedItem& consumed : batch.items) {
    advance(consumed.origin);
    {
      auto lock = model_->lock();
      learner_->add_item(consumed.item);
      ranker_.catalog_changed();
    }
    effects_.add(consumed.item, consumed.origin.source, consumed.origin.offset, pending_effects_);
  }
  auto now = Clock::now();
  for (const ConsumedEvent& consumed : batch.events) {
    advance(consumed.origin);
    on_event(consumed, now);
  }
}

bool StreamPipeline::summary_due() const { return Clock::now() - last_summary_ >= kSummaryInterval; }

bool StreamPipeline::write_due() const {
  // What a failed write holds is due as well: without new events it would
  // wait forever (and with it the commits).
  return summary_due() ||
         ((!pending_effects_.empty() || effects_writer_.holding()) &&
          Clock::now() - last_effects_write_ >= std::chrono::milliseconds(config_.redis.write_interval_ms));
}

Status StreamPipeline::apply(const ConsumedBatch& batch) {
  // After a failed write the consumer hands the same batch again: the
  // learner and the real-time state already have it, only the write is left.
  if (!write_failed_) {
    take(batch);
    feed_learner(/*everything=*/false);
  }
  // Rankings first: the writes below may wait for the write in flight and
  // for the model (the summary), and a ranking asked for must not.
  refresh_rankings();
  if (write_failed_ || write_due()) {
    Status written = submit_writes(summary_due());
    write_failed_ = !written.ok();
    if (!written.ok()) return written;
  }
  return {};
}

Status StreamPipeline::submit_writes(bool with_summary) {
  last_effects_write_ = Clock::now();
  StateWrites summary;
  if (with_summary) {
    last_summary_ = last_effects_write_;
    add_model_summary(summary);
  }
  return effects_writer_.submit(pending_effects_, summary);
}

Status StreamPipeline::flush() {
  (void)submit_writes(/*with_summary=*/true);  // a failure of the write before: retried with these, wait() tells
  return effects_writer_.wait();
}

void StreamPipeline::feed_learner(bool everything) {
  ready_.clear();
  if (everything) merger_.pop_all(ready_);
  else merger_.pop_ready(ready_);
  model_->learn(ready_);
}

void StreamPipeline::refresh_rankings() {
  if (dirty_users_.empty()) return;
  auto now = Clock::now();
  const auto interval = std::chrono::milliseconds(config_.rankings.refresh_interval_ms);
  std::vector<std::string> waiting;
  for (const std::string& id : dirty_users_) {
    UserState& user = users_[id];
    if (now - user.last_refresh < interval) {
      waiting.push_back(id);
      continue;
    }
    user.last_refresh = now;
    user.dirty = false;
    model_->rank({id, std::vector<std::string>(user.recent.begin(), user.recent.end()), user.context,
                  user.last_ts_ms, user.oldest_pending_kafka_ms});
    user.oldest_pending_kafka_ms = -1;
  }
  dirty_users_ = std::move(waiting);
}

void StreamPipeline::add_model_summary(StateWrites& state) {
  auto lock = model_->lock();
  uint64_t samples = learner_->samples_learned();
  if (samples != samples_at_last_summary_) ++model_version_;
  samples_at_last_summary_ = samples;
  size_t window = static_cast<size_t>(config_.learner.metrics_window);
  MetricSeries click = find_series(*learner_, "click").copy_last(window),
               ctcvr = find_series(*learner_, "ctcvr").copy_last(window);
  add_embeddings(lock, state);  // releases the lock: the AUCs need no model
  state.hset(keys_.model(), {{"version", std::to_string(model_version_)},
                             {"events_trained", std::to_string(samples)},
                             {"auc_click", number(auc(click))},
                             {"auc_ctcvr", number(auc(ctcvr))},
                             {"updated_ts", std::to_string(wall_clock_ms())}});
}

Status StreamPipeline::tick() {
  feed_learner(/*everything=*/false);
  refresh_rankings();
  Status status;
  // A stream that pauses must not leave effects (and commits) waiting.
  if (!write_failed_ && write_due())
    if (Status s = submit_writes(summary_due()); !s.ok() && status.ok()) status = s;
  auto now = Clock::now();
  if (!config_.checkpoint.path.empty() && positions_changed_ &&
      now - last_checkpoint_ >= std::chrono::seconds(config_.checkpoint.interval_s)) {
    if (Status s = save_checkpoint(); !s.ok() && status.ok()) status = s;
  }
  if (now - last_status_ >= std::chrono::seconds(5)) {
    last_status_ = now;
    RankingStats r = model_->ranking_stats();
    const auto& f = r.freshness_ms;
    spdlog::info("learn pipeline: {} samples learned, {} rankings written, freshness p50 {:.0f} ms p99 {:.0f} ms "
                 "max {:.0f} ms",
                 model_->samples_learned(), r.rankings_written, f.percentile(0.5), f.percentile(0.99), f.max());
  }
  return status;
}

std::optional<int64_t> StreamPipeline::start_offset(const std::string& cluster_id, const TopicPartition& partition) {
  effects_writer_.forget_marks();  // another learner may have moved them
  if (partition.topic == config_.kafka.events_topic) merger_.expect(partition);
  if (cluster_id != cluster_id_) {
    // Positions of another cluster (or none restored) mean nothing here.
    positions_.clear();
    cluster_id_ = cluster_id;
    return std::nullopt;
  }
  auto it = positions_.find(partition);
  if (it == positions_.end()) return std::nullopt;
  return it->second;
}

void StreamPipeline::partition_end(const TopicPartition& partition, int64_t end_offset) {
  if (partition.topic != config_.kafka.events_topic) return;
  merger_.caught_up(partition, end_offset);
  feed_learner(/*everything=*/false);
}

void StreamPipeline::partitions_revoked(const std::vector<TopicPartition>& partitions) {
  // Their batches are applied and committed; another consumer continues
  // them. What the merger still holds is learned now, slightly out of order,
  // rather than not at all.
  feed_learner(/*everything=*/true);
  model_->wait_until_learned();
  for (const TopicPartition& p : partitions) {
    positions_.erase(p);
    merger_.forget(p);
  }
  positions_changed_ = true;
}

namespace {
constexpr uint32_t kPipelineStateVersion = 1;
}

Status StreamPipeline::save_checkpoint() {
  if (config_.checkpoint.path.empty()) return {};
  // A batch Redis has not acknowledged must not be in a checkpoint: its
  // positions would make a restart skip effects that were never written.
  // Effects not in Redis yet must not be behind the checkpoint's positions:
  // a restart would skip them.
  if (Status s = flush(); !s.ok()) return Error{"checkpoint not written: " + s.message()};
  auto start = Clock::now();
  // The positions below say what the learner has seen: it must have learned
  // all of it.
  model_->wait_until_learned();
  auto lock = model_->lock();
  ByteWriter out;
  out.u32(kPipelineStateVersion);
  out.str(cluster_id_);
  // A partition resumes at its earliest event the learner has not seen:
  // what the merger holds is not in the learner's state.
  out.u64(positions_.size());
  for (auto& [tp, next] : positions_) {
    out.str(tp.topic);
    out.u32(static_cast<uint32_t>(tp.partition));
    out.i64(merger_.first_held(tp).value_or(next));
  }
  std::vector<const std::string*> ids;
  for (auto& [id, user] : users_) ids.push_back(&id);
  std::sort(ids.begin(), ids.end(), [](auto* a, auto* b) { return *a < *b; });
  out.u64(ids.size());
  for (const std::string* id : ids) {
    const UserState& user = users_.at(*id);
    out.str(*id);
    out.i64(user.last_ts_ms);
    out.u64(user.recent.size());
    for (auto& item : user.recent) out.str(item);
    out.u64(user.context.size());
    for (auto& f : user.context) {
      out.str(f.key);
      out.str(f.value);
      out.u8(f.numeric);
    }
  }
  ranker_.save(out);
  out.str(learner_->checkpoint_bytes(0));
  if (Status s = write_checkpoint_file(config_.checkpoint.path, out.take()); !s.ok()) return s;
  last_checkpoint_ = Clock::now();
  positions_changed_ = false;
  spdlog::info("learn: checkpoint {} written in {:.0f} ms ({} partitions)", config_.checkpoint.path,
               std::chrono::duration<double, std::milli>(last_checkpoint_ - start).count(), positions_.size());
  return {};
}

Status StreamPipeline::restore_checkpoint() {
  const std::string& path = config_.checkpoint.path;
  if (path.empty()) return {};
  // The newest good one: a damaged newest falls back to the one before.
  auto newest = read_newest_checkpoint(path);
  if (!newest.ok()) return newest.error();
  if (!newest->has_value()) return {};
  if (!(*newest)->skipped.empty())
    spdlog::error("learn: {}; restoring the previous checkpoint {} instead", (*newest)->skipped, (*newest)->file);
  ByteReader in((*newest)->payload);
  if (uint32_t version = in.u32(); version != kPipelineStateVersion)
    return Error{"checkpoint " + path + ": pipeline state version " + std::to_string(version) + ", expected " +
                 std::to_string(kPipelineStateVersion)};
  cluster_id_ = in.str();
  for (uint64_t n = in.u64(), i = 0; i < n && in.ok(); ++i) {
    TopicPartition tp;
    tp.topic = in.str();
    tp.partition = static_cast<int32_t>(in.u32());
    positions_[tp] = in.i64();
  }
  for (uint64_t n = in.u64(), i = 0; i < n && in.ok(); ++i) {
    UserState& user = users_[in.str()];
    user.last_ts_ms = in.i64();
    for (uint64_t r = in.u64(), j = 0; j < r && in.ok(); ++j) user.recent.push_back(in.str());
    for (uint64_t c = in.u64(), j = 0; j < c && in.ok(); ++j) {
      ContextFeature f;
      f.key = in.str();
      f.value = in.str();
      f.numeric = in.u8() != 0;
      user.context.push_back(std::move(f));
    }
  }
  if (!ranker_.load(in)) return Error{"checkpoint " + path + ": " + in.error()};
  std::string learner_bytes = in.str();
  if (!in.ok()) return Error{"checkpoint " + path + ": " + in.error()};
  if (auto restored = learner_->restore_checkpoint_bytes(learner_bytes, path); !restored.ok())
    return restored.error();
  spdlog::info("learn: restored checkpoint {} ({} samples learned, {} partitions, {} users)", (*newest)->file,
               learner_->samples_learned(), positions_.size(), users_.size());
  return {};
}

std::string StreamPipeline::stats_json(bool final) const {
  RankingStats r = model_->ranking_stats();
  const size_t window = static_cast<size_t>(config_.learner.metrics_window);
  const auto now = Clock::now();
  // A finished computation of the whole-run AUCs is taken; the final stats
  // wait for one still running.
  if (whole_auc_job_.valid() &&
      (final || whole_auc_job_.wait_for(std::chrono::seconds(0)) == std::future_status::ready))
    std::tie(whole_auc_, whole_series_) = whole_auc_job_.get();
  auto lock = model_->lock();
  const uint64_t samples_learned = learner_->samples_learned();
  const uint64_t joiner_duplicates = learner_->joiner_counters().duplicates;
  const bool whole_due = samples_learned != whole_auc_.samples && !whole_auc_job_.valid() &&
                         (final || whole_auc_.samples == 0 || now - whole_auc_.computed >= kWholeAucInterval);
  MetricSeries click = find_series(*learner_, "click").copy_last(window),
               ctcvr = find_series(*learner_, "ctcvr").copy_last(window);
  if (whole_due) {
    whole_series_.click.catch_up(find_series(*learner_, "click"));
    whole_series_.ctcvr.catch_up(find_series(*learner_, "ctcvr"));
  }
  lock.unlock();
  if (whole_due) {
    auto compute = [series = std::move(whole_series_), samples_learned, now]() mutable {
      WholeAuc result{auc(series.click), auc(series.ctcvr), samples_learned, now};
      return std::make_pair(result, std::move(series));
    };
    if (final) std::tie(whole_auc_, whole_series_) = compute();
    else whole_auc_job_ = std::async(std::launch::async, std::move(compute));
  }
  const auto& f = r.freshness_ms;
  return fmt::format(
      "{{\"samples_learned\":{},\"rankings_written\":{},\"rankings_skipped\":{},"
      "\"ranking_write_failures\":{},\"effects_write_failures\":{},\"freshness_ms\":{{\"count\":{},\"p50\":{:.1f},\"p99\":{:.1f},\"max\":{:.1f}}},"
      "\"auc_click_window\":{},\"auc_ctcvr_window\":{},\"auc_click\":{},\"auc_ctcvr\":{},\"auc_samples\":{},"
      "\"held_for_event_time\":{},\"joiner_duplicates\":{}}}",
      samples_learned, r.rankings_written, r.rankings_skipped, r.ranking_write_failures,
      effects_writer_.write_failures(), f.count(), f.percentile(0.5), f.percentile(0.99), f.max(),
      json_number(auc(click, window)), json_number(auc(ctcvr, window)), json_number(whole_auc_.click),
      json_number(whole_auc_.ctcvr), whole_auc_.samples, merger_.held(), joiner_duplicates);
}

}  // namespace streamrec::pipeline
