#include "feature_store/async_effects_writer.h"

#include <chrono>

#include <utility>

namespace streamrec {

AsyncEffectsWriter::AsyncEffectsWriter(std::string redis_url, int timeout_ms, IdempotentWriter writer)
    : writer_(std::move(writer)), thread_("streamrec-count", std::move(redis_url), timeout_ms) {
  thread_.start({[this] { return in_flight_; }, [this](bool) { take(); },
                 [this](RedisLink& redis) { write(redis); }, [this](bool) {
                   finish();
                   return false;  // what failed waits for the next submit()
                 }});
}

AsyncEffectsWriter::~AsyncEffectsWriter() { thread_.stop(); }

void AsyncEffectsWriter::wait_idle(std::unique_lock<std::mutex>& lock) {
  thread_.changed().wait(lock, [&] { return !in_flight_; });
}

Status AsyncEffectsWriter::submit(EffectBatch& effects, StateWrites& state) {
  std::unique_lock lock(thread_.mutex());
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
  thread_.changed().notify_all();
  return previous;
}

Status AsyncEffectsWriter::wait() {
  std::unique_lock lock(thread_.mutex());
  wait_idle(lock);
  return last_result_;
}

bool AsyncEffectsWriter::holding() const {
  std::lock_guard lock(thread_.mutex());
  return !in_flight_ && (!writing_.empty() || !state_.empty());
}

void AsyncEffectsWriter::forget_marks() {
  std::lock_guard lock(thread_.mutex());
  forget_marks_ = true;
}

void AsyncEffectsWriter::expect_mark(std::string source) {
  std::lock_guard lock(thread_.mutex());
  expected_marks_.push_back(std::move(source));
}

void AsyncEffectsWriter::take() {
  if (std::exchange(forget_marks_, false)) writer_.forget_marks();
  for (const std::string& source : expected_marks_) writer_.expect_mark(source);
  expected_marks_.clear();
  number_ = writing_number_;
}

void AsyncEffectsWriter::write(RedisLink& redis) {
  // writing_ and state_ are this thread's while in_flight_: submit() waits.
  status_ = redis.open();
  const auto started = std::chrono::steady_clock::now();
  if (status_.ok() && !writing_.empty()) status_ = writer_.write(redis.connection(), writing_);
  effects_in_ = status_.ok();
  if (status_.ok()) status_ = state_.write(redis.connection());
  if (status_.ok()) {
    std::lock_guard lock(write_ms_mutex_);
    write_ms_.record(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
  }
}

void AsyncEffectsWriter::finish() {
  if (effects_in_) {
    writing_.clear();
    durable_.store(number_, std::memory_order_release);
  }
  if (status_.ok()) state_.clear();
  else write_failures_.fetch_add(1, std::memory_order_relaxed);
  last_result_ = status_;
  in_flight_ = false;
}

}  // namespace streamrec
