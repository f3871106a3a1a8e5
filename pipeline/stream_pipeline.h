// `streamrec learn`'s EventSink: learns from the stream and keeps what apps
// read in Redis (DESIGN.md, data flow). Thin glue over the pipeline's parts;
// docs/architecture.md walks one click through them.
//
// Contract:
//  - Effects (counters, sr:pop, co-visits, recent clicks, item attributes) are exactly
//    once in Redis, written asynchronously (EffectsScheduler); write_mark()
//    / durable_mark() / flush() follow EventSink's contract, so the consumer
//    commits only what Redis acknowledged.
//  - apply() returns an Error only when the write before failed (Redis did
//    not acknowledge it); the consumer then retries the same batch, and the
//    retry only waits for the write again (the learner does not see the
//    batch twice). Nothing is dropped.
//  - Rankings, embeddings and sr:model are recomputed state: written
//    asynchronously, a failed ranking write tried again, never counted twice.
//  - Checkpoints (checkpoint.path, every checkpoint.interval_s -- a failed
//    write, too, is tried again an interval later -- and at
//    save_checkpoint()): create() restores the file if it exists -- a damaged
//    one is an Error -- and start_offset() then makes the consumer re-read
//    from its positions; positions of another Kafka cluster are ignored (the
//    model is kept). A checkpoint first writes and waits for the effects.
//
// Threads: the EventSink calls come from the consumer's thread, one at a
// time. Training and ranking run on the model's thread (ModelThread), which
// owns the Learner and the Ranker under its lock; the consumer's thread
// touches them (to add an item, read the model, checkpoint) only under
// ModelThread::lock(). A revocation first waits until everything queued is
// learned; a checkpoint does not: the model's thread serializes its state
// when it has learned what was queued before it. Owns every part; the
// destructor learns and ranks what is queued, then stops the model's thread.
//
// The parts, in the order a batch meets them:
//   RankingDebouncer   each user's real-time state; whose ranking is due
//                      (a click at once; an impression or purchase only when
//                      the ranking is older than rankings.impression_refresh_ms,
//                      and not while the model's thread is behind;
//                      at most every rankings.refresh_interval_ms)
//   EventTimeMerger    puts the partitions back in event-time order for the
//                      learner
//   ModelThread        learns, ranks, hands rankings to AsyncRankingWriter
//   CoVisitEffects     each click's co-visits, for sr:{i:<id>}:cv
//   EffectsScheduler   effects summed over redis.write_interval_ms, written
//                      with the model summary (StatsReporter) and the changed
//                      embeddings (EmbeddingExport) every second
//   pipeline_checkpoint.h  the checkpoint file, written by CheckpointWriter
//   StatsReporter      the stats JSON and the whole-run AUCs
// Freshness is measured per ranking write: from the Kafka timestamp of the
// oldest event that asked for it, to Redis acknowledging it.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/consumed.h"
#include "online_learner/learner.h"
#include "pipeline/checkpoint_writer.h"
#include "pipeline/covisit_effects.h"
#include "pipeline/effects_scheduler.h"
#include "pipeline/embedding_export.h"
#include "pipeline/event_time_merger.h"
#include "pipeline/model_thread.h"
#include "pipeline/pipeline_checkpoint.h"
#include "pipeline/ranking_debouncer.h"
#include "pipeline/stats_reporter.h"
#include "ranking/ranker.h"

namespace streamrec::pipeline {

class StreamPipeline : public EventSink {
 public:
  static Result<std::unique_ptr<StreamPipeline>> create(const Config& config);
  // Learns and ranks what is still queued, then stops the model's thread.
  ~StreamPipeline() override;
  StreamPipeline(const StreamPipeline&) = delete;
  StreamPipeline& operator=(const StreamPipeline&) = delete;

  // Bulk-loads a catalog (learn --catalog): every item into the learner and
  // the ranker at once, and its attributes into Redis with the next write,
  // marked with `source` ("catalog:<path>") and the item's 1-based position,
  // so loading the same file again writes nothing twice. Consumer's thread,
  // before the first apply().
  void load_catalog(const std::vector<Item>& items, const std::string& source);
  Status apply(const ConsumedBatch& batch) override;
  Status tick() override;
  std::optional<int64_t> start_offset(const std::string& cluster_id, const TopicPartition& partition) override;
  void partitions_revoked(const std::vector<TopicPartition>& partitions, bool closing) override;
  void expect_applied(std::string_view source) override { effects_.expect_applied(source); }
  void reading_from(const TopicPartition& partition, int64_t offset) override;
  void partition_end(const TopicPartition& partition, int64_t end_offset) override;
  std::string stats_json(bool final) const override;
  uint64_t write_mark() const override { return effects_.write_mark(); }
  uint64_t durable_mark() const override { return effects_.durable_mark(); }
  // Writes the effects held back, and the model summary, now and waits for Redis.
  Status flush() override;

  // Pushes a stats sample (JSON) on sr:stats with the next model summary,
  // for serve's dashboard. Consumer's thread.
  void publish_stats(std::string sample_json) { stats_sample_ = std::move(sample_json); }

  // Writes the checkpoint now and waits for it (no-op without
  // checkpoint.path); the stop's. The interval's, in tick(), is written on
  // CheckpointWriter's thread while the pipeline goes on.
  Status save_checkpoint();

 private:
  StreamPipeline(const Config& config, std::unique_ptr<learner::Learner> learner);
  // Takes a new batch into the real-time state, the merger and the effects.
  void take(const ConsumedBatch& batch);
  // A kForget tombstone, consumed at `origin`: every per-user structure
  // drops the user (the model's side after it learned what is queued), and
  // the user's keys are deleted, exactly once, in a write waited for there
  // and then. Forgetting is rare: the consumer's thread waits for the model
  // and for Redis once per tombstone.
  void forget_user(const Event& tombstone, const MessageOrigin& origin);
  // Queues for the model's thread what the merger releases (or everything
  // it holds); waits while its queue is full.
  void feed_learner(bool everything);
  // Asks the model's thread for the rankings that are due, as many as it
  // has room for (`everything`: every user waiting, due or not).
  void request_rankings(bool everything);
  // Hands the effects held back, and the model summary when asked, to the
  // writer; an Error is the write before's (retried with these).
  Status submit_writes(bool with_summary);
  Status restore_checkpoint();
  // Serializes the consumer's state; the model's thread adds its own once
  // it has learned what is queued (the consumer goes on meanwhile) and
  // hands the whole to checkpoint_writer_, which writes it once Redis holds
  // the effects added so far.
  void start_checkpoint();
  // Forgets the users the debouncer evicted (learner.max_users) everywhere
  // else: co-visit effects, the joiner, the ranker's histories.
  void forget_evicted_users();
  // Drops what this learner keeps of the users besides the debouncer's
  // state and the merger's held events: co-visit histories, everything the
  // model's thread keeps (Learner::forget_users, the ranker's, waiting
  // rankings), pending embedding exports. Redis is not touched.
  void drop_user_state(const std::vector<std::string>& user_ids);
  // After a rebalance took `revoked` away: drops the users whose latest
  // event came from a revoked events partition (their new owner keeps them).
  void drop_users_of(const std::vector<TopicPartition>& revoked);

  Config config_;
  // Used on the model's thread; elsewhere only under model_->lock().
  std::unique_ptr<learner::Learner> learner_;
  ranking::Ranker ranker_;
  EventTimeMerger merger_;
  std::vector<learner::EventWithRecentClicks> ready_;
  RankingDebouncer users_;
  std::vector<std::string> evicted_users_;  // forget_evicted_users()'s scratch
  std::vector<RankRequest> due_;
  EffectsScheduler effects_;
  CoVisitEffects covisits_;
  EmbeddingExport embeddings_;
  StatsReporter stats_;
  std::string stats_sample_;  // publish_stats()'s, until the next summary takes it
  bool write_failed_ = false;  // the last apply() took its batch but the write before failed
  bool tick_write_failed_ = false;  // tick()'s last write failed: the next apply() writes first

  // Next offset per partition of everything applied, in its cluster
  // (learned from the consumer at assignment, or restored).
  StreamPositions positions_;
  bool positions_changed_ = false;
  // The last one tried on the interval, written or not: a failing write (a
  // full disk) is retried one interval later, not on every tick.
  std::chrono::steady_clock::time_point last_checkpoint_attempt_{};
  std::chrono::steady_clock::time_point last_status_{};
  std::unique_ptr<CheckpointWriter> checkpoint_writer_;  // with checkpoint.path

  // Last: stopped (after learning what is queued) before anything above goes.
  std::unique_ptr<ModelThread> model_;
};

}  // namespace streamrec::pipeline
