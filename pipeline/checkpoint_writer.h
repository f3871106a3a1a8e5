// Writes the pipeline's checkpoint file on a thread of its own, so that the
// consumer and the model wait only while the state is serialized, not while
// hundreds of megabytes are written and fsynced (seconds: consuming stopped
// that long at every checkpoint, bench/soak.sh), nor while Redis acknowledges
// the effects of the messages before the checkpoint's positions: the file
// is put in place only once `durable()` says Redis holds them (a restart
// from it skips those messages, so their effects must not be lost with a
// crash).
//
// A checkpoint is reserved by one thread (the consumer's, at the
// checkpoint's point) and its bytes serialized and submitted later by
// another (the model's, once it has learned everything before that point),
// into a learner::StreamedCheckpoint whose blocks this writer's thread puts
// on disk as they come; busy() holds from the reservation until the file is
// in place. Threads: every call is thread-safe; reserve() and submit()
// alternate. Ownership: owns its thread, and shares each file with the
// thread that serializes into it; the destructor waits for a submitted
// write in flight (one reserved and never submitted is abandoned).
// Errors: a failed write is logged as an error (learner::StreamedCheckpoint's
// message, or effects Redis did not acknowledge within kMostDurableWait:
// the previous file is kept), remembered as last_failed() and returned by
// wait(); trying again is the caller's (the next interval).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/status.h"
#include "online_learner/checkpoint.h"

namespace streamrec::pipeline {

class CheckpointWriter {
 public:
  using Clock = std::chrono::steady_clock;
  // How long a checkpoint waits for Redis to hold the effects before it.
  static constexpr std::chrono::seconds kMostDurableWait{30};

  explicit CheckpointWriter(std::string path);
  ~CheckpointWriter();
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;

  // True from reserve() until the reserved checkpoint is written (or failed).
  bool busy() const;
  // Reserves the next write and returns its file: the writer's thread
  // writes its payload to disk as the payload is serialized into it. Call
  // only when !busy().
  std::shared_ptr<learner::StreamedCheckpoint> reserve();
  // What the checkpoint cost the pipeline, for the log line.
  struct Pauses {
    Clock::duration consumer{};  // the consumer, serializing its own state
    Clock::duration catch_up{};  // until the model's thread had learned what was queued (the consumer went on)
    Clock::duration model{};     // the model's thread, serializing the ranker and the learner
  };
  // The reserved file's payload (pipeline_checkpoint.h's bytes) is
  // complete: the writer's thread commits it into place once `durable()`
  // holds (asked every few milliseconds, from that thread); `partitions` is
  // for the log line. Call once after each reserve().
  void submit(size_t partitions, Pauses pauses, std::function<bool()> durable);
  // Waits until no write is in flight; the status of the last one (ok when
  // none was made).
  Status wait();
  // The last write failed (the next one should not wait for new positions).
  bool last_failed() const;
  // When the last successful write was in place; nullopt before the first.
  std::optional<Clock::time_point> last_written() const;

 private:
  void run();

  const std::string path_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool in_flight_ = false;  // reserved, and not written yet
  bool submitted_file_ = false, stopping_ = false;
  std::shared_ptr<learner::StreamedCheckpoint> file_;     // reserved, not taken by the writer's thread yet
  std::shared_ptr<learner::StreamedCheckpoint> writing_;  // taken: being written
  std::function<bool()> durable_;
  size_t partitions_ = 0;
  Pauses pauses_;
  Clock::time_point submitted_{};
  Status last_status_;
  std::optional<Clock::time_point> last_written_;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace streamrec::pipeline
