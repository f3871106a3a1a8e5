// The checkpoint file format: an envelope around the learner's state.
//
//   "SRLRNCKP" | u32 version | u64 payload bytes | payload | u64 checksum
//
// little-endian; the checksum covers the payload. Writes go to a temporary
// file renamed into place, so a crash never leaves half a checkpoint under
// the final name. Reading rejects a wrong magic, an unknown version, a
// truncated file and a checksum mismatch, each with its own message.
// Stateless functions; thread-safe for different paths.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace streamrec::learner {

inline constexpr uint32_t kCheckpointVersion = 1;

Status write_checkpoint_file(const std::string& path, std::string_view payload);
Result<std::string> read_checkpoint_file(const std::string& path);
// The envelope alone, for callers that keep checkpoints in memory.
std::string wrap_checkpoint(std::string_view payload);
Result<std::string> unwrap_checkpoint(std::string_view file, const std::string& name);

uint64_t checksum64(std::string_view bytes);

}  // namespace streamrec::learner
