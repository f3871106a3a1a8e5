// Writes EffectBatches to Redis on a thread of its own (an IdempotentWriter
// on an AsyncWriter, feature_store/async_writer.h), so that the thread that consumes the stream keeps
// consuming while Redis applies the effects of the last second: at 50k
// events/s that takes Redis a few hundred milliseconds. Recomputed state
// (StateWrites: embeddings, sr:model) may ride along; it is written after
// the effects, in the same turn.
//
// One write is in flight at a time. submit() hands a batch over: it first
// waits for the write in flight, then starts the next. Submissions of
// effects are numbered from 1; durable() is the number of the last one
// whose effects, and all before them, Redis acknowledged. A write Redis
// does not acknowledge keeps what it did not write: the next submit()
// writes it again, with the new effects and state appended (the offset
// marks skip effects that are in already; newer state overwrites older),
// and returns the failure, so the caller can back off; holding() says a
// submit() is due even without anything new. Nothing is dropped until the
// writer is destroyed.
//
// Threads: submit(), wait() and forget_marks() are called from one thread
// (the consumer's); holding(), durable() and write_failures() from any. The
// destructor waits for the write in flight; effects it could not write are
// lost with it, which is why callers wait() before giving up their offsets
// (uncommitted, they are read and applied again after a restart).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "core/latency_histogram.h"
#include "core/status.h"
#include "feature_store/async_writer.h"
#include "feature_store/idempotent_writer.h"
#include "feature_store/redis_connection.h"
#include "feature_store/state_writes.h"

namespace streamrec {

class AsyncEffectsWriter {
 public:
  // Writes with `writer`, set up by the caller (its marks key, the user
  // keys' TTL, the capped ZSETs: IdempotentWriter).
  AsyncEffectsWriter(std::string redis_url, int timeout_ms, IdempotentWriter writer);
  ~AsyncEffectsWriter();
  AsyncEffectsWriter(const AsyncEffectsWriter&) = delete;
  AsyncEffectsWriter& operator=(const AsyncEffectsWriter&) = delete;

  // Waits for the write in flight; then writes `effects` and `state` (moved
  // from, left empty) after whatever that write failed to. Returns that
  // write's failure, if it failed; with nothing new and nothing held back
  // it starts nothing.
  Status submit(EffectBatch& effects, StateWrites& state);
  Status submit(EffectBatch& effects) {
    StateWrites none;
    return submit(effects, none);
  }
  // Waits for the write in flight and returns how it went.
  Status wait();
  // The marks may have moved (partitions reassigned): read them again
  // before the next write.
  void forget_marks();
  // Redis must hold a mark for `source` (IdempotentWriter::expect_mark).
  void expect_mark(std::string source);

  // Whether effects or state a write failed to write wait for the next submit().
  bool holding() const;
  // The number of submissions so far, and of the last durable one.
  uint64_t submitted() const { return submitted_; }
  uint64_t durable() const { return durable_.load(std::memory_order_acquire); }
  int64_t write_failures() const { return write_failures_.load(std::memory_order_relaxed); }
  // How long each write Redis acknowledged took (effects and state, one
  // round trip each), in ms. Any thread.
  LatencyHistogram write_ms() const {
    std::lock_guard lock(write_ms_mutex_);
    return write_ms_;
  }

 private:
  // The write in flight is done (the lock held by `lock`).
  void wait_idle(std::unique_lock<std::mutex>& lock);
  // The AsyncWriter's steps, on its thread.
  void take();
  void write(RedisLink& redis);
  void finish();

  // Under thread_.mutex():
  EffectBatch writing_;     // in flight, or what the last write failed to write
  StateWrites state_;       // likewise
  bool in_flight_ = false;
  uint64_t writing_number_ = 0;  // the submission writing_ completes
  Status last_result_;
  bool forget_marks_ = false;
  std::vector<std::string> expected_marks_;
  uint64_t submitted_ = 0;  // the submitting thread's

  std::atomic<uint64_t> durable_{0};
  std::atomic<int64_t> write_failures_{0};
  mutable std::mutex write_ms_mutex_;
  LatencyHistogram write_ms_;  // under write_ms_mutex_

  // The writer thread's own.
  IdempotentWriter writer_;
  uint64_t number_ = 0;     // of the write in flight
  bool effects_in_ = false;  // its effects are in Redis
  Status status_;           // how it went

  // Last: stopped first, before what its steps use goes.
  AsyncWriter thread_;
};

}  // namespace streamrec
