// When the effects of consumed messages go to Redis: they are summed over
// redis.write_interval_ms (EffectBatch) and handed, with the recomputed
// state due then (embeddings, sr:model, every kSummaryInterval), to the
// asynchronous effects writer (feature_store/async_effects_writer.h), so the
// consumer never waits for Redis. The consumer's commits wait for them:
// write_mark() names the write that will hold everything added so far,
// durable_mark() the last one Redis acknowledged (EventSink's contract).
//
// Errors: submit() returns the failure of the write before (which the
// writer keeps and writes again with the next), so the caller can retry;
// nothing is dropped. Threads: the consumer's thread only, except
// durable_mark() and write_failures() (any).
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "core/config.h"
#include "core/consumed.h"
#include "core/status.h"
#include "feature_store/async_effects_writer.h"
#include "feature_store/feature_effects.h"
#include "feature_store/state_writes.h"

namespace streamrec::pipeline {

class EffectsScheduler {
 public:
  using Clock = std::chrono::steady_clock;

  explicit EffectsScheduler(const Config& config);

  // The key-building half of feature_store, for the recomputed state the
  // caller adds to a write.
  const FeatureEffects& effects() const { return effects_; }

  // Hold back the effects of a consumed message, a co-visit, or a user's recent clicks.
  void add(const Event& event, const MessageOrigin& origin) {
    effects_.add(event, origin.source, origin.offset, pending_);
  }
  void add(const Item& item, const MessageOrigin& origin) { effects_.add(item, origin.source, origin.offset, pending_); }
  void add_covisit(std::string_view a, std::string_view b, const MessageOrigin& origin) {
    effects_.add_covisit(a, b, origin.source, origin.offset, pending_);
  }
  void add_recent_clicks(std::string_view user_id, std::string_view recent_json, const MessageOrigin& origin) {
    effects_.add_recent_clicks(user_id, recent_json, origin.source, origin.offset, pending_);
  }

  // A forgotten user's recomputed state (rankings, explanations, emb): deleted
  // with the next write, before the state it carries
  // (FeatureEffects::add_forget_recomputed). The marked deletes come with
  // the tombstone's add() like any event's effects.
  void forget_recomputed(std::string_view user_id) { effects_.add_forget_recomputed(user_id, forgotten_); }

  // The model summary is due every kSummaryInterval; the effects held back
  // every redis.write_interval_ms, and with every summary.
  bool summary_due() const { return Clock::now() - last_summary_ >= kSummaryInterval; }
  bool write_due() const;
  // Hands the effects held back, and `state` (moved from), to the writer,
  // after the write in flight; an Error is that write's (retried with
  // these). `with_summary`: `state` holds the summary.
  Status submit(StateWrites& state, bool with_summary);
  // Waits for the write in flight and returns how it went.
  Status wait() { return writer_.wait(); }
  // The marks may have moved (partitions reassigned).
  void forget_marks() { writer_.forget_marks(); }
  // Redis must hold the marks of `source`'s effects (on its users and on
  // its items): Kafka has offsets of it committed.
  void expect_applied(std::string_view source) {
    writer_.expect_mark(std::string(source));
    writer_.expect_mark(FeatureEffects::item_side(source));
  }

  uint64_t write_mark() const { return writer_.submitted() + (pending_.empty() ? 0 : 1); }
  uint64_t durable_mark() const { return writer_.durable(); }
  int64_t write_failures() const { return writer_.write_failures(); }
  LatencyHistogram write_ms() const { return writer_.write_ms(); }

 private:
  static constexpr std::chrono::seconds kSummaryInterval{1};

  const std::chrono::milliseconds write_interval_;
  FeatureEffects effects_;
  AsyncEffectsWriter writer_;
  // Effects of the messages added since the last submit().
  EffectBatch pending_;
  // forget_recomputed()'s deletes, until the next submit().
  StateWrites forgotten_;
  Clock::time_point last_write_{};
  Clock::time_point last_summary_{};
};

}  // namespace streamrec::pipeline
