// The checkpoint file format: an envelope around the learner's state.
//
//   "SRLRNCKP" | u32 version | u64 payload bytes | payload | u64 checksum
//
// little-endian; the checksum covers the payload. Reading rejects a wrong
// magic, an unknown version, a truncated file and a checksum mismatch, each
// with its own message. Stateless functions; thread-safe for different paths.
//
// Writes are durable and keep the previous checkpoint: the new one goes to
// <path>.tmp and is fsynced, the current <path> becomes <path>.prev, <path>.tmp
// is renamed to <path>, and the directory is fsynced. A crash at any point
// leaves a whole checkpoint under <path> or <path>.prev; a failed write (a
// full disk, a file-size limit) removes <path>.tmp and leaves both as they
// were.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "online_learner/byte_io.h"

namespace streamrec::learner {

inline constexpr uint32_t kCheckpointVersion = 3;  // 2: samples' log_correction, the sampler's counts; 3: items' brand

Status write_checkpoint_file(const std::string& path, std::string_view payload);

// The same file, written while its payload is being serialized, so that a
// state of hundreds of megabytes is never held twice in memory, and a slow
// disk delays the file, never the serializing thread. Two threads, each
// with its part:
//  - the serializing thread writes payload() (a ByteWriter in spill mode:
//    it hands every ~4 MB to this object) and calls finish();
//  - the writing thread calls write_payload(), which appends the blocks to
//    <path>.tmp as they come (the ones the disk has not taken yet wait in
//    memory) and returns once finish() (or abandon()) was called and all
//    is written, then commit(): the length in the header, the lengths
//    patched after their bytes were handed over, the trailer's checksum
//    (reading the payload back), fsync, and the renames of
//    write_checkpoint_file (the previous file kept as <path>.prev).
// Errors (creating, writing, syncing, renaming; abandoned) are commit()'s,
// naming the path; a checkpoint not committed removes <path>.tmp when
// destroyed. abandon() may come from any thread. Not movable (both threads
// hold it; share it by pointer).
class StreamedCheckpoint {
 public:
  explicit StreamedCheckpoint(std::string path);
  ~StreamedCheckpoint();
  StreamedCheckpoint(const StreamedCheckpoint&) = delete;
  StreamedCheckpoint& operator=(const StreamedCheckpoint&) = delete;

  ByteWriter& payload() { return payload_; }
  void finish();
  void write_payload();
  Status commit();
  void abandon();
  uint64_t payload_bytes() const;  // written so far

 private:
  void take(std::string block);
  bool write_all(std::string_view bytes);  // at the end of the file; false (and error_) on failure
  void fail(const std::string& why);

  const std::string path_;
  ByteWriter payload_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> blocks_;  // handed over, not written yet
  bool finished_ = false, abandoned_ = false;
  // The writing thread's.
  int fd_ = -1;
  uint64_t written_ = 0;  // payload bytes in the file
  std::string error_;     // the first failure
};

Result<std::string> read_checkpoint_file(const std::string& path);

// What read_newest_checkpoint() found: the payload, the file it came from,
// and why <path> itself was not used ("" when it was).
struct NewestCheckpoint {
  std::string payload;
  std::string file;
  std::string skipped;
};
// The newest good checkpoint of `path`: <path>, or <path>.prev when <path> is
// missing or damaged. A damaged <path> is renamed to <path>.corrupt (kept for
// a look, and so that the next write keeps the good <path>.prev). nullopt
// when neither file exists; an Error naming both files when neither is good.
Result<std::optional<NewestCheckpoint>> read_newest_checkpoint(const std::string& path);
// The envelope alone, for callers that keep checkpoints in memory.
std::string wrap_checkpoint(std::string_view payload);
Result<std::string> unwrap_checkpoint(std::string_view file, const std::string& name);

uint64_t checksum64(std::string_view bytes);

// checksum64 of `total_bytes` bytes given in parts, in order, every part but
// the last a multiple of 8 bytes long.
class Checksum64 {
 public:
  explicit Checksum64(uint64_t total_bytes);
  void add(std::string_view part);
  uint64_t value() const;

 private:
  uint64_t h_;
};

}  // namespace streamrec::learner
