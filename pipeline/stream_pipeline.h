// `streamrec learn`'s work on each consumed batch: learn from the stream and
// keep what apps read in Redis (DESIGN.md, data flow).
//
// For every batch, in Kafka order:
//   items   -> the learner's and the ranker's catalog; item attributes
//   events  -> counters and sr:pop (exactly once, IdempotentWriter; summed
//              over redis.write_interval_ms and written at once on a
//              thread of their own, AsyncEffectsWriter, which the
//              consumer's commits wait for: write_mark(), flush()); the
//              user's real-time state: a click enters `recent` at once,
//              before any label window closes, so rankings react at once;
//              the learner (joiner, progressive validation, mini-batch SGD),
//              through an EventTimeMerger that puts the partitions back in
//              event-time order, on the model's thread.
// and, debounced per user (rankings.refresh_interval_ms), the ranking of each
// user who asked for one (a click; an impression or purchase only when the
// ranking is older than rankings.impression_refresh_ms) is recomputed
// (Ranker) and replaced atomically (RankingPublisher). Freshness is measured per
// ranking write: from the Kafka timestamp of the oldest event that asked for
// it, to Redis acknowledging it. Every second, with the effects write (on the
// writer's thread, so the consumer never waits for Redis): sr:model, and the
// embeddings (`emb`, float32 little-endian) of everyone the learner trained
// on since.
//
// Checkpoints (checkpoint.path, every checkpoint.interval_s and at close()):
// the learner's whole state, the ranker's catalog and popularity, each
// user's real-time state, and the stream positions (next offset per
// partition, with the Kafka cluster id). create() restores the file if it
// exists -- a damaged one is an Error -- and start_offset() then makes the
// consumer re-read from those positions: the learner re-learns what came
// after the checkpoint while the offset marks in Redis skip the effects
// already there. Positions of another cluster are ignored (the model is kept).
//
// apply() returns an Error only when it handed the effects held back to the
// writer and the write before them had failed (Redis did not acknowledge
// it); the consumer then retries the same batch and commits nothing, and the
// retry only waits for the write again (the learner does not see the batch
// twice). A checkpoint first writes what is held back and waits for it.
// Rankings are recomputed state: a failed ranking write is tried again.
//
// Threads: the EventSink calls come from the consumer's thread (one at a
// time): decoding, effects, real-time state, checkpoints. Training and
// ranking run on the model's thread (ModelThread), which learns what the
// merger releases, in order, and ranks the users the consumer's thread asks
// for. The consumer's thread touches the Learner or the Ranker (to add an
// item, read the model, checkpoint) only under model_->lock(). A checkpoint
// and a revocation first wait until everything queued is learned.
#pragma once

#include <chrono>
#include <cmath>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/consumed.h"
#include "feature_store/feature_effects.h"
#include "feature_store/async_effects_writer.h"
#include "feature_store/state_writes.h"
#include "pipeline/event_time_merger.h"
#include "online_learner/learner.h"
#include "pipeline/model_thread.h"
#include "ranking/ranker.h"
#include "ranking/realtime_user.h"

namespace streamrec::pipeline {

class StreamPipeline : public EventSink {
 public:
  static Result<std::unique_ptr<StreamPipeline>> create(const Config& config);
  // Learns and ranks what is still queued, then stops the model's thread.
  ~StreamPipeline() override;
  StreamPipeline(const StreamPipeline&) = delete;
  StreamPipeline& operator=(const StreamPipeline&) = delete;

  Status apply(const ConsumedBatch& batch) override;
  Status tick() override;
  std::optional<int64_t> start_offset(const std::string& cluster_id, const TopicPartition& partition) override;
  void partitions_revoked(const std::vector<TopicPartition>& partitions) override;
  void partition_end(const TopicPartition& partition, int64_t end_offset) override;
  // The whole run's AUCs (auc_click, auc_ctcvr, over auc_samples samples)
  // are recomputed at most every kWholeAucInterval, and in the final stats.
  // They sort every sample kept, up to 2 * learner.metrics_max_samples per
  // series (0.5 s at 10 M): on a thread of their own from copies, so neither
  // the consumer nor the model waits for them, and the stats show the last
  // finished; the final stats compute them in place.
  std::string stats_json(bool final) const override;
  uint64_t write_mark() const override {
    return effects_writer_.submitted() + (pending_effects_.empty() ? 0 : 1);
  }
  uint64_t durable_mark() const override { return effects_writer_.durable(); }
  // Writes the effects held back (pending_effects_) now and waits for Redis.
  Status flush() override;

  // Writes the checkpoint now (no-op without checkpoint.path).
  Status save_checkpoint();


 private:
  StreamPipeline(const Config& config, std::unique_ptr<learner::Learner> learner);
  // Effects are due every redis.write_interval_ms; the model summary every
  // kSummaryInterval (and the effects pending then go with it).
  bool write_due() const;
  bool summary_due() const;
  // Hands the effects held back, and the model summary when asked, to
  // effects_writer_, after the write in flight; an Error is that write's
  // (retried with these).
  Status submit_writes(bool with_summary);
  // Takes a new batch into the real-time state, the merger and the effects.
  void take(const ConsumedBatch& batch);
  void on_event(const ConsumedEvent& consumed, std::chrono::steady_clock::time_point now);
  // Adds to `state` the embeddings the learner changed since; copies them
  // under `model_lock`, then releases it.
  void add_embeddings(std::unique_lock<std::mutex>& model_lock, StateWrites& state);
  // Queues for the model's thread what the merger releases (or everything
  // it holds); waits while its queue is full.
  void feed_learner(bool everything);
  // Asks the model's thread for the rankings of users whose debounce
  // interval has passed.
  void refresh_rankings();
  // Adds to `state` sr:model and the embeddings changed since.
  void add_model_summary(StateWrites& state);
  Status restore_checkpoint();

  // The real-time state, and whether and since when it waits for a ranking.
  struct UserState : ranking::RealtimeUser {
    bool dirty = false;
    int64_t oldest_pending_kafka_ms = -1;  // of the first event since the last refresh
    std::chrono::steady_clock::time_point last_refresh{};
  };

  Config config_;
  RedisKeys keys_;
  // Used on the model's thread; elsewhere only under model_->lock().
  std::unique_ptr<learner::Learner> learner_;
  ranking::Ranker ranker_;
  EventTimeMerger merger_;
  std::vector<Event> ready_;
  FeatureEffects effects_;
  AsyncEffectsWriter effects_writer_;

  std::unordered_map<std::string, UserState> users_;
  std::vector<std::string> dirty_users_;
  // Effects of the batches applied since the last write, summed and written
  // every redis.write_interval_ms by effects_writer_ (see write_mark()).
  EffectBatch pending_effects_;
  std::chrono::steady_clock::time_point last_effects_write_{};
  bool write_failed_ = false;  // the last apply() took its batch but the write before failed
  // Users and items the learner trained on since their embeddings were
  // last written (under model_->lock()).
  std::unordered_set<std::string> learned_users_, learned_items_;

  // Next offset per partition of everything applied, in cluster cluster_id_
  // (learned from the consumer at assignment, or restored).
  std::map<TopicPartition, int64_t> positions_;
  std::string cluster_id_;
  bool positions_changed_ = false;
  std::chrono::steady_clock::time_point last_checkpoint_{};

  uint64_t model_version_ = 0;
  static constexpr std::chrono::seconds kSummaryInterval{1};
  static constexpr std::chrono::seconds kWholeAucInterval{30};
  // stats_json()'s last whole-run AUCs, and the one being computed (the
  // consumer's thread only). Its copies of the learner's series are caught
  // up under the model lock (MetricSeries::catch_up: only the samples new
  // since the last time, not millions) and lent to the computation.
  struct WholeAuc {
    double click = std::nan(""), ctcvr = std::nan("");
    uint64_t samples = 0;
    std::chrono::steady_clock::time_point computed{};
  };
  struct WholeSeries {
    learner::MetricSeries click, ctcvr;
  };
  mutable WholeAuc whole_auc_;
  mutable WholeSeries whole_series_;
  mutable std::future<std::pair<WholeAuc, WholeSeries>> whole_auc_job_;
  uint64_t samples_at_last_summary_ = 0;
  std::chrono::steady_clock::time_point last_summary_{};
  std::chrono::steady_clock::time_point last_status_{};

  // Last: stopped (after learning what is queued) before anything above goes.
  std::unique_ptr<ModelThread> model_;
};

}  // namespace streamrec::pipeline
