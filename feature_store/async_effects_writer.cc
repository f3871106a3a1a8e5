#include "feature_store/async_effects_writer.h"

#include <pthread.h>

#include <utility>

#include "core/stop_worker.h"

namespace streamrec {

AsyncEffectsWriter::AsyncEffectsWriter(std::string redis_url, int timeout_ms, std::string marks_key)
    : redis_url_(std::move(redis_url)), timeout_ms_(timeout_ms), writer_(std::move(marks_key)) {
  thread_ = std::thread([this] { run(); });
}

AsyncEffectsWriter::~AsyncEffectsWriter() { stop_worker(mutex_, stopping_, changed_, thread_); }

void AsyncEffectsWriter::wait_idle(std::unique_lock<std::mutex>& lock) {
  changed_.wait(lock, [&] { return !in_flight_; });
}

Status AsyncEffectsWriter::submit(EffectBatch& effects, StateWrites& state) {
  std::unique_lock lock(mutex_);
  wait_idle(lock);
  Status previous = std::exchange(last_result_, Status{});
  // After what the last write failed to write, if anything.
  if (!effects.empty()) {
    writing_.append(std::move(effects));
    writing_number_ = ++submitted_;
  }
  state_.append(std::move(state));
  if (writing_.empty() && state_.empty()) return previous;
  in_flight_ = true;
  lock.unlock();
  changed_.notify_all();
  return previous;
}

Status AsyncEffectsWriter::wait() {
  std::unique_lock lock(mutex_);
  wait_idle(lock);
  return last_result_;
}

bool AsyncEffectsWriter::holding() const {
  std::lock_guard lock(mutex_);
  return !in_flight_ && (!writing_.empty() || !state_.empty());
}

void AsyncEffectsWriter::forget_marks() {
  std::lock_guard lock(mutex_);
  forget_marks_ = true;
}

void AsyncEffectsWriter::run() {
  pthread_setname_np(pthread_self(), "streamrec-count");  // for top -H and perf
  for (;;) {
    uint64_t number;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || in_flight_; });
      if (!in_flight_) return;  // stopping, nothing in flight
      if (std::exchange(forget_marks_, false)) writer_.forget_marks();
      number = writing_number_;
    }
    // writing_ and state_ are this thread's while in_flight_: submit() waits.
    Status status = connect_if_needed(redis_, redis_url_, timeout_ms_);
    if (status.ok() && !writing_.empty()) status = writer_.apply(*redis_, writing_);
    const bool effects_in = status.ok();
    if (status.ok()) status = state_.write(*redis_);
    {
      std::lock_guard lock(mutex_);
      if (effects_in) {
        writing_.clear();
        durable_.store(number, std::memory_order_release);
      }
      if (status.ok()) state_.clear();
      else write_failures_.fetch_add(1, std::memory_order_relaxed);
      last_result_ = status;
      in_flight_ = false;
    }
    changed_.notify_all();
  }
}

}  // namespace streamrec
