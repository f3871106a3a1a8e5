// The one mechanism behind feature_store's asynchronous writers
// (AsyncEffectsWriter, AsyncRankingWriter): a thread of its own with a Redis
// connection of its own (opened on first use, reopened after an I/O error),
// so that the threads that hand it work never wait for Redis, only for room.
//
// What is written, and what a failure means, is the owner's: it gives four
// steps (Job). Each round the thread waits until has_work() (or stop()),
// take()s the work under mutex(), write()s it without the lock, and
// finish()es under mutex() again; a finish() that returns true (a failed
// write to try again) pauses the thread for `retry_pause` or until stop().
// The owner's own calls guard its state with mutex() and wake the thread
// with changed().notify_all().
//
// Ownership and threads: owns its thread and connection; the Job's steps
// run on that thread. stop() (the owner's destructor calls it before its
// members go; the destructor too, as a fallback) lets the thread finish the
// round it is in and one more round for the work waiting, with `stopping`
// true, then joins it. Never throws; errors are the Job's to record.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/status.h"
#include "feature_store/redis_connection.h"

namespace streamrec {

// The writer thread's connection, opened when a write asks for it.
class RedisLink {
 public:
  RedisLink(std::string url, int timeout_ms) : url_(std::move(url)), timeout_ms_(timeout_ms) {}
  // Connects when there is no connection or it broke; an Error says why not.
  Status open() { return connect_if_needed(connection_, url_, timeout_ms_); }
  // After an open() that succeeded.
  RedisConnection& connection() { return *connection_; }

 private:
  const std::string url_;
  const int timeout_ms_;
  std::optional<RedisConnection> connection_;
};

class AsyncWriter {
 public:
  struct Job {
    std::function<bool()> has_work;            // under mutex()
    std::function<void(bool stopping)> take;   // under mutex(): the work is the thread's until finish()
    std::function<void(RedisLink& redis)> write;  // without the lock
    std::function<bool(bool stopping)> finish;  // under mutex(); true: pause before the next round
  };

  // `thread_name` shows in top -H and perf (at most 15 characters).
  AsyncWriter(std::string thread_name, std::string redis_url, int timeout_ms,
              std::chrono::milliseconds retry_pause = std::chrono::milliseconds(0));
  ~AsyncWriter() { stop(); }
  AsyncWriter(const AsyncWriter&) = delete;
  AsyncWriter& operator=(const AsyncWriter&) = delete;

  // Starts the thread; once.
  void start(Job job);
  // Writes what waits (stopping = true), then joins the thread; idempotent.
  void stop();

  std::mutex& mutex() const { return mutex_; }
  std::condition_variable& changed() const { return changed_; }

 private:
  void run();

  const std::string thread_name_;
  const std::chrono::milliseconds retry_pause_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  bool stopping_ = false;
  Job job_;
  RedisLink redis_;  // the thread's own
  std::thread thread_;
};

}  // namespace streamrec
