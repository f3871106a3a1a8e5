#include "pipeline/checkpoint_writer.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include "online_learner/checkpoint.h"

namespace streamrec::pipeline {

CheckpointWriter::CheckpointWriter(std::string path) : path_(std::move(path)), thread_([this] { run(); }) {}

CheckpointWriter::~CheckpointWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool CheckpointWriter::busy() const {
  std::lock_guard lock(mu_);
  return in_flight_;
}

void CheckpointWriter::reserve() {
  std::lock_guard lock(mu_);
  in_flight_ = true;
}

void CheckpointWriter::submit(std::string payload, size_t partitions, Pauses pauses) {
  {
    std::lock_guard lock(mu_);
    payload_ = std::move(payload);
    partitions_ = partitions;
    pauses_ = pauses;
    submitted_ = Clock::now();
    in_flight_ = submitted_payload_ = true;
  }
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
    cv_.wait(lock, [this] { return submitted_payload_ || stopping_; });
    if (!submitted_payload_) return;
    submitted_payload_ = false;
    std::string payload = std::move(payload_);
    payload_.clear();
    const size_t partitions = partitions_;
    const Pauses pauses = pauses_;
    const Clock::time_point submitted = submitted_;
    lock.unlock();
    const size_t bytes = payload.size();
    Status s = learner::write_checkpoint_file(path_, payload);
    payload = std::string();  // its memory back before the next one is made
    const Clock::time_point done = Clock::now();
    if (s.ok()) {
      using ms = std::chrono::duration<double, std::milli>;
      spdlog::info("learn: checkpoint {} written in {:.0f} ms ({} partitions), {:.0f} MB; it paused the consumer "
                   "{:.0f} ms and, {:.0f} ms later, the model's thread {:.0f} ms (serializing)",
                   path_, ms(done - submitted).count(), partitions, static_cast<double>(bytes) / 1e6,
                   ms(pauses.consumer).count(), ms(pauses.catch_up).count(), ms(pauses.model).count());
    } else {
      spdlog::error("learn: {}", s.message());
    }
    lock.lock();
    last_status_ = s;
    if (s.ok()) last_written_ = done;
    in_flight_ = false;
    cv_.notify_all();
  }
}

}  // namespace streamrec::pipeline
