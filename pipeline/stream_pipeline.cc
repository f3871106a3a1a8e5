#include "pipeline/stream_pipeline.h"

#include <spdlog/spdlog.h>

#include <deque>
#include <filesystem>

namespace streamrec::pipeline {

using learner::Learner;
using learner::Sample;
using learner::Scores;

namespace {

using Clock = std::chrono::steady_clock;

// Ranking requests the model's thread holds at most; beyond, users asked
// for wait in the debouncer, where a user's further clicks merge into their
// one ranking (the thread behind ranks less than is asked: ModelThread).
constexpr size_t kMostQueuedRankings = 1024;

std::string recent_json(const learner::RecentClicks& recent) {
  std::string out = "[";
  for (size_t i = 0; i < recent.size(); ++i) {
    if (i) out += ",";
    append_json_string(out, recent[i]);
  }
  return out + "]";
}

}  // namespace

Result<std::unique_ptr<StreamPipeline>> StreamPipeline::create(const Config& config) {
  auto learner = Learner::create(config.learner);
  if (!learner.ok()) return learner.error();
  std::unique_ptr<StreamPipeline> pipeline(new StreamPipeline(config, std::move(learner).value()));
  StreamPipeline* self = pipeline.get();
  self->learner_->set_sink([self](const Sample& sample, const Scores&) { self->embeddings_.learned(sample); });
  if (Status s = pipeline->restore_checkpoint(); !s.ok()) return Error{s.message()};
  pipeline->model_ = std::make_unique<ModelThread>(config, *pipeline->learner_, pipeline->ranker_);
  return pipeline;
}

StreamPipeline::~StreamPipeline() = default;

StreamPipeline::StreamPipeline(const Config& config, std::unique_ptr<Learner> learner)
    : config_(config),
      learner_(std::move(learner)),
      ranker_(config.rankings, config.popularity, *learner_),
      merger_(static_cast<size_t>(config.learner.max_held_events)),
      users_(config.rankings, config.learner.recent_clicks, config.learner.max_users),
      effects_(config),
      covisits_(config.rankings, config.learner.max_users),
      stats_(config.learner),
      checkpoint_writer_(config.checkpoint.path.empty() ? nullptr
                                                        : std::make_unique<CheckpointWriter>(config.checkpoint.path)) {}

void StreamPipeline::take(const ConsumedBatch& batch) {
  auto advance = [&](const MessageOrigin& origin) {
    positions_.next[{origin.topic, origin.partition}] = origin.offset + 1;
    positions_changed_ = true;
  };
  for (const ConsumedItem& consumed : batch.items) {
    advance(consumed.origin);
    {
      auto lock = model_->lock();
      learner_->add_item(consumed.item);
      ranker_.catalog_changed();
    }
    effects_.add(consumed.item, consumed.origin);
  }
  auto now = Clock::now();
  for (const ConsumedEvent& consumed : batch.events) {
    const MessageOrigin& origin = consumed.origin;
    advance(origin);
    if (consumed.event.type == EventType::kForget) {
      forget_user(consumed.event, origin);
      continue;
    }
    effects_.add(consumed.event, origin);
    covisits_.add(consumed.event, origin, effects_);
    // The learner gets the user's recent clicks from here, with the event:
    // it trains with the bag the rankings are scored with.
    learner::RecentClicks recent_clicks_before;
    const ranking::RealtimeUser* clicked =
        users_.observe(consumed.event, origin.partition, origin.kafka_ts_ms, now, &recent_clicks_before);
    merger_.push({origin.topic, origin.partition}, origin.offset, consumed.event, std::move(recent_clicks_before));
    if (clicked) effects_.add_recent_clicks(consumed.event.user_id, recent_json(clicked->recent), origin);
  }
  forget_evicted_users();
}

void StreamPipeline::forget_evicted_users() {
  evicted_users_.clear();
  users_.take_evicted(evicted_users_);
  if (evicted_users_.empty()) return;
  for (const std::string& id : evicted_users_) covisits_.erase_user(id);
  // Once per batch, not per user: the model thread steps aside for it.
  std::unique_lock<std::mutex> lock;
  if (model_) lock = model_->lock();  // none yet while restoring
  for (const std::string& id : evicted_users_) ranker_.erase_user(id);
}

void StreamPipeline::forget_user(const Event& tombstone, const MessageOrigin& origin) {
  const std::string& user = tombstone.user_id;
  // The user's events before the tombstone that the learner has not seen
  // are never learned; nothing asks for their ranking any more.
  merger_.erase_user(user);
  users_.erase(user);
  drop_user_state({user});
  // Their keys: deleted exactly once, in order with their effects before and
  // after (marks); their recomputed state deleted with the same write. The
  // write goes now and is waited for: nothing computed from the user's
  // events after the tombstone (rankings, embeddings) may reach Redis before
  // the deletes, nor anything from before it after them.
  effects_.add(tombstone, origin);
  effects_.forget_recomputed(user);
  if (Status s = flush(); !s.ok())
    spdlog::warn("learn: the deletes of a forgotten user wait for Redis (retried with the next write): {}", s.message());
  // The id is personal data: not logged.
  spdlog::info("learn: forgot a user (tombstone {} at {}@{})", tombstone.event_id, origin.source, origin.offset);
}

void StreamPipeline::drop_user_state(const std::vector<std::string>& user_ids) {
  for (const std::string& id : user_ids) covisits_.erase_user(id);
  model_->forget_users(user_ids);
  auto lock = model_->lock();
  for (const std::string& id : user_ids) embeddings_.erase_user(id);
}

void StreamPipeline::load_catalog(const std::vector<Item>& items, const std::string& source) {
  {
    auto lock = model_->lock();
    for (const Item& item : items) learner_->add_item(item);
    ranker_.catalog_changed();
  }
  MessageOrigin origin;
  origin.source = source;
  for (size_t i = 0; i < items.size(); ++i) {
    origin.offset = static_cast<int64_t>(i + 1);
    effects_.add(items[i], origin);
  }
}

Status StreamPipeline::apply(const ConsumedBatch& batch) {
  // After a failed write the consumer hands the same batch again: the
  // learner and the real-time state already have it, only the write is left.
  if (!write_failed_) {
    // While the model's thread is behind, refreshes no click asked for are
    // shed until it has caught up.
    users_.shed_refreshes(model_->behind());
    take(batch);
    feed_learner(/*everything=*/false);
  }
  // Rankings first: the writes below may wait for the write in flight and
  // for the model (the summary), and a ranking asked for must not.
  request_rankings(/*everything=*/false);
  // A write that failed in tick() is tried here too, so that its failure
  // reaches the consumer, which then retries this batch and pauses its
  // partitions: without it, a Redis outage found by tick() alone (the usual
  // case on an idle machine) let the consumer take batch after batch into
  // memory, none of them durable.
  if (write_failed_ || tick_write_failed_ || effects_.write_due()) {
    Status written = submit_writes(effects_.summary_due());
    write_failed_ = !written.ok();
    tick_write_failed_ = false;
    if (!written.ok()) return written;
  }
  return {};
}

Status StreamPipeline::submit_writes(bool with_summary) {
  StateWrites state;
  if (with_summary) {
    auto lock = model_->lock();
    StatsReporter::ModelSummary summary = stats_.summarize(*learner_);
    embeddings_.add_changed(lock, *learner_, effects_.effects(), state);  // releases the lock: the AUCs need no model
    auto fields = StatsReporter::summary_fields(summary);
    std::vector<StateWrites::Field> views(fields.begin(), fields.end());
    effects_.effects().add_model_summary(views, state);
    if (!stats_sample_.empty()) {
      effects_.effects().add_stats_sample(stats_sample_, state);
      stats_sample_.clear();
    }
  }
  return effects_.submit(state, with_summary);
}

Status StreamPipeline::flush() {
  (void)submit_writes(/*with_summary=*/true);  // a failure of the write before: retried with these, wait() tells
  return effects_.wait();
}

void StreamPipeline::feed_learner(bool everything) {
  ready_.clear();
  if (everything) merger_.pop_all(ready_);
  else merger_.pop_ready(ready_);
  model_->learn(ready_);
}

void StreamPipeline::request_rankings(bool everything) {
  if (everything) {
    users_.take_due(Clock::time_point::max(), due_);
  } else {
    const size_t queued = model_->rankings_queued();
    users_.take_due(Clock::now(), due_, queued < kMostQueuedRankings ? kMostQueuedRankings - queued : 0);
  }
  for (RankRequest& request : due_) model_->rank(std::move(request));
  due_.clear();
}

Status StreamPipeline::tick() {
  feed_learner(/*everything=*/false);
  request_rankings(/*everything=*/false);
  Status status;
  // A stream that pauses must not leave effects (and commits) waiting.
  if (!write_failed_ && effects_.write_due()) {
    Status s = submit_writes(effects_.summary_due());
    tick_write_failed_ = !s.ok();
    if (!s.ok() && status.ok()) status = s;
  }
  auto now = Clock::now();
  // A write that failed waits for the next interval too: each try
  // serializes the whole model on its thread, so retrying on every tick
  // would all but stop learning (a full disk).
  // One write at a time: while one is in flight the next waits for it.
  if (checkpoint_writer_ && (positions_changed_ || checkpoint_writer_->last_failed()) &&
      now - last_checkpoint_attempt_ >= std::chrono::seconds(config_.checkpoint.interval_s) &&
      !checkpoint_writer_->busy()) {
    last_checkpoint_attempt_ = now;
    start_checkpoint();
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
  effects_.forget_marks();  // another learner may have moved them
  if (partition.topic == config_.kafka.events_topic) merger_.expect(partition);
  if (cluster_id != positions_.cluster_id) {
    // Positions of another cluster (or none restored) mean nothing here.
    positions_.next.clear();
    positions_.cluster_id = cluster_id;
    return std::nullopt;
  }
  auto it = positions_.next.find(partition);
  if (it == positions_.next.end()) return std::nullopt;
  return it->second;
}

void StreamPipeline::reading_from(const TopicPartition& partition, int64_t offset) {
  // In the next checkpoint even before it delivers anything (a restored
  // position is the same offset).
  if (positions_.next.emplace(partition, offset).second) positions_changed_ = true;
}

void StreamPipeline::partition_end(const TopicPartition& partition, int64_t end_offset) {
  if (partition.topic != config_.kafka.events_topic) return;
  merger_.caught_up(partition, end_offset);
  feed_learner(/*everything=*/false);
}

void StreamPipeline::partitions_revoked(const std::vector<TopicPartition>& partitions, bool closing) {
  // Their batches are applied and committed. What the merger still holds is
  // learned now, slightly out of order, rather than not at all.
  feed_learner(/*everything=*/true);
  // Closing: every user still waiting for a ranking gets it (the model's
  // thread ranks what is queued before it stops).
  if (closing) request_rankings(/*everything=*/true);
  model_->wait_until_learned();
  for (const TopicPartition& p : partitions) {
    // Taken by a rebalance: another consumer continues them, and this one
    // resumes from the committed offsets should they come back. Closing:
    // the checkpoint written at the stop keeps where the learner's state of
    // each partition ends (here, at the commits). A learner restarted from it
    // later, after others consumed and committed further (e.g. a successor
    // SIGKILLed before its first checkpoint), must re-read from there, not
    // from the committed offsets: else its state silently misses what came
    // between, tombstones included, and a forgotten user comes back.
    if (!closing) positions_.next.erase(p);
    merger_.forget(p);
  }
  if (!closing) drop_users_of(partitions);
  positions_changed_ = true;
}

void StreamPipeline::drop_users_of(const std::vector<TopicPartition>& revoked) {
  // A user's events, tombstone included, go to one partition (keyed by
  // user): its new owner learns them from now on, and a tombstone reaches
  // only that owner. What this learner kept of the user would outlive the
  // user's forgetting (and its checkpoints would keep it): dropped here,
  // without touching Redis, whose keys the new owner now writes.
  std::vector<int32_t> events_partitions;
  for (const TopicPartition& p : revoked)
    if (p.topic == config_.kafka.events_topic) events_partitions.push_back(p.partition);
  std::vector<std::string> dropped;
  users_.take_users_of(events_partitions, dropped);
  drop_user_state(dropped);
  if (!dropped.empty())
    spdlog::info("learn: dropped the state of {} users of {} revoked events partitions", dropped.size(),
                 events_partitions.size());
}

Status StreamPipeline::save_checkpoint() {
  if (!checkpoint_writer_) return {};
  // The interval's, if one is in flight: its failure is logged; this one is tried anyway.
  (void)checkpoint_writer_->wait();
  // The effects now, not at the next interval: nothing else writes them any more.
  if (Status s = flush(); !s.ok()) return Error{"checkpoint not written: " + s.message()};
  start_checkpoint();
  return checkpoint_writer_->wait();
}

void StreamPipeline::start_checkpoint() {
  const auto asked = Clock::now();
  // Effects not in Redis yet must not be behind the checkpoint's positions
  // (a restart would skip them): the file is written once Redis has
  // acknowledged the write that holds everything added so far, which the
  // consumer makes at its next interval, going on meanwhile.
  const uint64_t holding_everything = effects_.write_mark();
  // Every partition resumes after its last event consumed: the events the
  // merger holds (not in the learner's state yet) are in the checkpoint,
  // with the bags the users' state gave them. Read again, they would meet
  // that state a second time.
  std::string stream_state = serialize_stream_state(positions_, users_, merger_);
  const size_t partitions = positions_.next.size();
  const auto consumer_pause = Clock::now() - asked;
  positions_changed_ = false;
  std::shared_ptr<learner::StreamedCheckpoint> file = checkpoint_writer_->reserve();
  // The learner's and the ranker's state as of exactly the events given to
  // the model so far, serialized on its thread when it gets there, while
  // this thread goes on consuming (a barrier in the model's queue).
  model_->at_this_point([this, file = std::move(file), stream_state = std::move(stream_state), partitions, asked,
                         consumer_pause, holding_everything]() mutable {
    const auto reached = Clock::now();
    // To the file as it is serialized (the checkpoint writer's thread puts
    // each few megabytes on disk): the state is never held twice.
    finish_pipeline_checkpoint(stream_state, ranker_, *learner_, file->payload());
    file.reset();
    checkpoint_writer_->submit(partitions,
                               {consumer_pause, reached - asked - consumer_pause, Clock::now() - reached},
                               [this, holding_everything] { return effects_.durable_mark() >= holding_everything; });
  });
}

Status StreamPipeline::restore_checkpoint() {
  const std::string& path = config_.checkpoint.path;
  std::vector<learner::EventWithRecentClicks> held;
  auto restored = restore_pipeline_checkpoint(path, positions_, users_, held, ranker_, *learner_);
  if (!restored.ok()) return restored.error();
  if (restored->empty()) return {};
  // What the merger held is learned first, before anything consumed from
  // now on: slightly out of event-time order across partitions, as at a
  // revocation, rather than not at all.
  for (learner::EventWithRecentClicks& e : held) {
    learner_->add_event(e.event, std::move(e.recent_clicks));
    ranker_.add_event(e.event);
  }
  forget_evicted_users();  // restored under a smaller learner.max_users
  covisits_.restore(ranker_.histories());
  spdlog::info("learn: restored checkpoint {} ({} samples learned, {} partitions, {} users)", *restored,
               learner_->samples_learned(), positions_.next.size(), users_.users());
  return {};
}

std::string StreamPipeline::stats_json(bool final) const {
  const auto last_checkpoint = checkpoint_writer_ ? checkpoint_writer_->last_written() : std::nullopt;
  const double checkpoint_age_s =
      last_checkpoint ? std::chrono::duration<double>(Clock::now() - *last_checkpoint).count() : std::nan("");
  const std::vector<MemoryBound> bounds = {
      {"realtime_users", users_.users(), config_.learner.max_users, users_.evicted_users()},
      {"covisit_effect_users", covisits_.users(), config_.learner.max_users, covisits_.evicted_users()},
      {"held_events", merger_.held(), config_.learner.max_held_events, merger_.released_over_bound()}};
  return stats_.stats_json(final, *model_, *learner_, ranker_, effects_.write_failures(), effects_.write_ms(),
                           merger_.held(), users_.refreshes_shed(), users_.asked() + model_->rankings_queued(),
                           checkpoint_age_s, bounds);
}

}  // namespace streamrec::pipeline
