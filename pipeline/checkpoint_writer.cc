#include "pipeline/checkpoint_writer.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include "online_learner/checkpoint.h"

namespace streamrec::pipeline {

CheckpointWriter::CheckpointWriter(std::string path) : path_(std::move(path)), thread_([this] { run(); }) {}

CheckpointWriter::~CheckpointWriter() {
  std::shared_ptr<learner::StreamedCheckpoint> unfinished;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    // A payload never submitted is not waited for.
    if (!submitted_file_) unfinished = writing_ ? writing_ : file_;
  }
  if (unfinished) unfinished->abandon();
  cv_.notify_all();
  thread_.join();
}

bool CheckpointWriter::busy() const {
  std::lock_guard lock(mu_);
  return in_flight_;
}

std::shared_ptr<learner::StreamedCheckpoint> CheckpointWriter::reserve() {
  auto file = std::make_shared<learner::StreamedCheckpoint>(path_);
  {
    std::lock_guard lock(mu_);
    in_flight_ = true;
    file_ = file;
  }
  cv_.notify_all();
  return file;
}

void CheckpointWriter::submit(size_t partitions, Pauses pauses, std::function<bool()> durable) {
  std::shared_ptr<learner::StreamedCheckpoint> file;
  {
    std::lock_guard lock(mu_);
    durable_ = std::move(durable);
    partitions_ = partitions;
    pauses_ = pauses;
    submitted_ = Clock::now();
    submitted_file_ = true;
    file = writing_ ? writing_ : file_;
  }
  file->finish();  // the writer's thread goes on to commit it
  cv_.notify_all();
}

Status CheckpointWriter::wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !in_flight_; });
  return last_status_;
}

bool CheckpointWriter::last_failed() const {
  std::lock_guard lock(mu_);
  return !last_status_.ok();
}

std::optional<CheckpointWriter::Clock::time_point> CheckpointWriter::last_written() const {
  std::lock_guard lock(mu_);
  return last_written_;
}

void CheckpointWriter::run() {
  pthread_setname_np(pthread_self(), "streamrec-ckpt");
  std::unique_lock lock(mu_);
  for (;;) {
    // A write in flight is finished before stopping: the destructor waits for it.
    cv_.wait(lock, [this] { return file_ || stopping_; });
    if (!file_) return;
    writing_ = std::move(file_);
    const std::shared_ptr<learner::StreamedCheckpoint> file = writing_;
    lock.unlock();
    file->write_payload();  // as the model's thread serializes it, until submit()
    lock.lock();
    const bool complete = std::exchange(submitted_file_, false);
    const std::function<bool()> durable = std::move(durable_);
    const size_t partitions = partitions_;
    const Pauses pauses = pauses_;
    const Clock::time_point submitted = submitted_;
    lock.unlock();
    const uint64_t bytes = file->payload_bytes();
    // Polled: the effects' writer acknowledges on its own thread, at most
    // every redis.write_interval_ms; a few ms more before a file that takes
    // seconds to write cost nothing.
    auto stopping = [this] {
      std::lock_guard stop_lock(mu_);
      return stopping_;
    };
    bool in_redis = complete && durable();
    while (complete && !in_redis && !stopping() && Clock::now() - submitted < kMostDurableWait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      in_redis = durable();
    }
    const Clock::time_point in_redis_at = Clock::now();
    // Abandoned (never submitted), commit() says so.
    Status s = !complete || in_redis ? file->commit()
                                     : Status(Error{"checkpoint " + path_ +
                                       " not written (the previous one is kept): Redis did not acknowledge the effects "
                                       "of the messages before it (waited " +
                                       fmt::format("{:.1f}", std::chrono::duration<double>(Clock::now() - submitted).count()) +
                                       " s)"});
    const Clock::time_point done = Clock::now();
    if (s.ok()) {
      using ms = std::chrono::duration<double, std::milli>;
      spdlog::info("learn: checkpoint {} written in {:.0f} ms ({} partitions), {:.0f} MB, after {:.0f} ms waiting for "
                   "Redis to hold the effects before it; it paused the consumer "
                   "{:.0f} ms and, {:.0f} ms later, the model's thread {:.0f} ms (serializing)",
                   path_, ms(done - in_redis_at).count(), partitions, static_cast<double>(bytes) / 1e6,
                   ms(in_redis_at - submitted).count(),
                   ms(pauses.consumer).count(), ms(pauses.catch_up).count(), ms(pauses.model).count());
    } else {
      spdlog::error("learn: {}", s.message());
    }
    lock.lock();
    writing_.reset();
    last_status_ = s;
    if (s.ok()) last_written_ = done;
    in_flight_ = false;
    cv_.notify_all();
  }
}

}  // namespace streamrec::pipeline
