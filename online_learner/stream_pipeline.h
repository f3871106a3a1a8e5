// `streamrec learn`'s work on each consumed batch: learn from the stream and
// keep what apps read in Redis (DESIGN.md, data flow).
//
// For every batch, in Kafka order:
//   items   -> the learner's and the ranker's catalog; item attributes
//   events  -> counters and sr:pop (exactly once, IdempotentWriter); the
//              learner (joiner, progressive validation, mini-batch SGD); the
//              user's real-time state: a click enters `recent` at once,
//              before any label window closes, so rankings react at once
//   then    -> user and item embeddings (`emb`, float32 little-endian) of
//              everyone the batch touched, in the same idempotent write
// and, debounced per user (rankings.refresh_interval_ms), each touched user's
// ranking is recomputed (Ranker) and replaced atomically (RankingWriter).
// Freshness is measured per ranking write: from the Kafka timestamp of the
// oldest event it answers to, to Redis acknowledging it.
//
// apply() returns an Error only when Redis did not acknowledge the batch's
// effects; the consumer then retries the batch and commits nothing. Rankings
// are recomputed state: a failed ranking write is retried on the next tick.
// Not thread-safe: everything runs on the consumer's thread.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/config.h"
#include "core/consumed.h"
#include "feature_store/feature_effects.h"
#include "feature_store/idempotent_writer.h"
#include "feature_store/ranking_writer.h"
#include "feature_store/redis_connection.h"
#include "online_learner/latency_histogram.h"
#include "online_learner/learner.h"
#include "online_learner/ranker.h"

namespace streamrec::learner {

struct PipelineStats {
  int64_t events = 0;
  int64_t items = 0;
  int64_t rankings_written = 0;
  int64_t rankings_skipped = 0;  // users with no model state yet (they read sr:pop)
  int64_t ranking_write_failures = 0;
  LatencyHistogram freshness_ms;
};

class StreamPipeline : public EventSink {
 public:
  static Result<std::unique_ptr<StreamPipeline>> create(const Config& config);

  Status apply(const ConsumedBatch& batch) override;
  Status tick() override;
  std::string stats_json() const override;

  const PipelineStats& stats() const { return stats_; }
  Learner& learner() { return *learner_; }

 private:
  StreamPipeline(const Config& config, std::unique_ptr<Learner> learner);
  Status connect();
  void on_event(const ConsumedEvent& consumed);
  void add_embedding(const std::string& key, uint64_t feature, const MessageOrigin& origin);
  // Refreshes the rankings of users whose debounce interval has passed.
  Status refresh_rankings();
  Status write_model_summary();

  struct UserState {
    std::deque<std::string> recent;      // clicked items, newest first
    std::vector<ContextFeature> context;  // of the latest event
    int64_t last_ts_ms = 0;
    bool dirty = false;
    int64_t oldest_pending_kafka_ms = -1;  // of the first event since the last refresh
    std::chrono::steady_clock::time_point last_refresh{};
  };

  Config config_;
  RedisKeys keys_;
  std::unique_ptr<Learner> learner_;
  Ranker ranker_;
  FeatureEffects effects_;
  IdempotentWriter writer_;
  RankingWriter ranking_writer_;
  std::optional<RedisConnection> redis_;

  std::unordered_map<std::string, UserState> users_;
  std::vector<std::string> dirty_users_;
  EffectBatch batch_effects_;
  // Per batch: the last message that touched each user or item.
  std::unordered_map<std::string, MessageOrigin> touched_users_, touched_items_;

  PipelineStats stats_;
  uint64_t model_version_ = 0;
  uint64_t samples_at_last_summary_ = 0;
  std::chrono::steady_clock::time_point last_summary_{};
  std::chrono::steady_clock::time_point last_status_{};
};

}  // namespace streamrec::learner
