#include "online_learner/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "online_learner/byte_io.h"

namespace streamrec::learner {
namespace {
constexpr std::string_view kMagic = "SRLRNCKP";
constexpr size_t kHeader = 8 + 4 + 8;
}  // namespace

uint64_t checksum64(std::string_view bytes) {
  // Word-wise multiply-xorshift; any flipped bit changes the result.
  uint64_t h = 0x243f6a8885a308d3ULL ^ bytes.size();
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
  }
  for (; i < bytes.size(); ++i) {
    h = (h ^ static_cast<unsigned char>(bytes[i])) * 0x100000001b3ULL;
    h ^= h >> 29;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

namespace {
// The file is header, payload, trailer: built apart, so that a write need
// not copy a payload of hundreds of megabytes into one buffer first.
std::string checkpoint_header(std::string_view payload) {
  ByteWriter w;
  w.raw(kMagic.data(), kMagic.size());
  w.u32(kCheckpointVersion);
  w.u64(payload.size());
  return w.take();
}

std::string checkpoint_trailer(std::string_view payload) {
  ByteWriter w;
  w.u64(checksum64(payload));
  return w.take();
}
}  // namespace

std::string wrap_checkpoint(std::string_view payload) {
  std::string file = checkpoint_header(payload);
  file.append(payload);
  file += checkpoint_trailer(payload);
  return file;
}

Result<std::string> unwrap_checkpoint(std::string_view file, const std::string& name) {
  std::string what = "checkpoint " + name + ": ";
  if (file.size() < kHeader || file.substr(0, 8) != kMagic)
    return Error{what + "not a streamrec learner checkpoint (bad magic)"};
  ByteReader r(file.substr(8));
  uint32_t version = r.u32();
  if (version != kCheckpointVersion)
    return Error{what + "format version " + std::to_string(version) + ", this build reads version " +
                 std::to_string(kCheckpointVersion)};
  uint64_t size = r.u64();
  if (file.size() - kHeader < 8 || size > file.size() - kHeader - 8)
    return Error{what + "truncated: header promises " + std::to_string(size + kHeader + 8) + " bytes, file has " +
                 std::to_string(file.size())};
  if (file.size() != kHeader + size + 8)
    return Error{what + "has " + std::to_string(file.size() - kHeader - size - 8) + " trailing bytes"};
  std::string_view payload = file.substr(kHeader, size);
  uint64_t stored;
  std::memcpy(&stored, file.data() + kHeader + size, 8);
  if (stored != checksum64(payload)) return Error{what + "checksum mismatch: the file is corrupted"};
  return std::string(payload);
}

namespace {

std::string errno_text() { return std::strerror(errno); }

// Writes all of `parts`, in order, to a new `path` and fsyncs it; on failure removes it.
Status write_synced(const std::string& path, std::initializer_list<std::string_view> parts) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error{"cannot create " + path + ": " + errno_text()};
  std::string failure;
  for (std::string_view bytes : parts) {
    for (size_t done = 0; done < bytes.size() && failure.empty();) {
      ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) failure = "cannot write " + path + ": " + errno_text();
      else done += static_cast<size_t>(n);
    }
  }
  if (failure.empty() && ::fsync(fd) != 0) failure = "cannot fsync " + path + ": " + errno_text();
  if (::close(fd) != 0 && failure.empty()) failure = "cannot close " + path + ": " + errno_text();
  if (failure.empty()) return {};
  ::unlink(path.c_str());
  return Error{failure};
}

// So that the renames themselves survive a power cut.
Status sync_directory_of(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error{"cannot open the directory " + dir + ": " + errno_text()};
  int rc = ::fsync(fd);
  std::string failure = rc != 0 ? "cannot fsync the directory " + dir + ": " + errno_text() : "";
  ::close(fd);
  if (!failure.empty()) return Error{failure};
  return {};
}

}  // namespace

Status write_checkpoint_file(const std::string& path, std::string_view payload) {
  const std::string tmp = path + ".tmp", prev = path + ".prev";
  if (Status s = write_synced(tmp, {checkpoint_header(payload), payload, checkpoint_trailer(payload)}); !s.ok())
    return Error{"checkpoint " + path + " not written (the previous one is kept): " + s.message()};
  if (::access(path.c_str(), F_OK) == 0 && std::rename(path.c_str(), prev.c_str()) != 0)
    return Error{"checkpoint " + path + ": cannot keep the previous one as " + prev + ": " + errno_text()};
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return Error{"checkpoint " + path + ": cannot rename into place: " + errno_text()};
  if (Status s = sync_directory_of(path); !s.ok()) return Error{"checkpoint " + path + ": " + s.message()};
  return {};
}

Result<std::optional<NewestCheckpoint>> read_newest_checkpoint(const std::string& path) {
  const std::string prev = path + ".prev";
  const bool newest_exists = ::access(path.c_str(), F_OK) == 0, prev_exists = ::access(prev.c_str(), F_OK) == 0;
  if (!newest_exists && !prev_exists) return std::optional<NewestCheckpoint>();
  std::string skipped;
  if (newest_exists) {
    auto newest = read_checkpoint_file(path);
    if (newest.ok()) return std::optional<NewestCheckpoint>(NewestCheckpoint{std::move(newest).value(), path, ""});
    skipped = newest.error().message;
    if (!prev_exists) return Error{skipped + "; no previous checkpoint " + prev + " to fall back to"};
    // Out of the way: the next write must not make it the previous one.
    std::rename(path.c_str(), (path + ".corrupt").c_str());
  } else {
    skipped = "checkpoint " + path + " is missing (a crash between the renames of a write)";
  }
  auto previous = read_checkpoint_file(prev);
  if (!previous.ok()) return Error{skipped + "; and the previous one: " + previous.error().message};
  return std::optional<NewestCheckpoint>(NewestCheckpoint{std::move(previous).value(), prev, skipped});
}

Result<std::string> read_checkpoint_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"checkpoint " + path + ": cannot be opened: " + std::strerror(errno)};
  std::ostringstream buf;
  buf << in.rdbuf();
  return unwrap_checkpoint(buf.str(), path);
}

}  // namespace streamrec::learner
