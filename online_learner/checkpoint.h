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

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace streamrec::learner {

inline constexpr uint32_t kCheckpointVersion = 3;  // 2: samples' log_correction, the sampler's counts; 3: items' brand

Status write_checkpoint_file(const std::string& path, std::string_view payload);
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

}  // namespace streamrec::learner
