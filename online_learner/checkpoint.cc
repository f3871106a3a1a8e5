#include "online_learner/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "online_learner/byte_io.h"

namespace streamrec::learner {
namespace {
constexpr std::string_view kMagic = "SRLRNCKP";
constexpr size_t kHeader = 8 + 4 + 8;
}  // namespace

Checksum64::Checksum64(uint64_t total_bytes) : h_(0x243f6a8885a308d3ULL ^ total_bytes) {}

void Checksum64::add(std::string_view bytes) {
  // Word-wise multiply-xorshift; any flipped bit changes the result.
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    h_ = (h_ ^ w) * 0x9e3779b97f4a7c15ULL;
    h_ ^= h_ >> 29;
  }
  for (; i < bytes.size(); ++i) {
    h_ = (h_ ^ static_cast<unsigned char>(bytes[i])) * 0x100000001b3ULL;
    h_ ^= h_ >> 29;
  }
}

uint64_t Checksum64::value() const {
  uint64_t h = h_;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

uint64_t checksum64(std::string_view bytes) {
  Checksum64 sum(bytes.size());
  sum.add(bytes);
  return sum.value();
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

namespace {
// <path>.tmp, written and synced, becomes <path>; <path> becomes <path>.prev.
Status install(const std::string& path) {
  const std::string tmp = path + ".tmp", prev = path + ".prev";
  if (::access(path.c_str(), F_OK) == 0 && std::rename(path.c_str(), prev.c_str()) != 0)
    return Error{"checkpoint " + path + ": cannot keep the previous one as " + prev + ": " + errno_text()};
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return Error{"checkpoint " + path + ": cannot rename into place: " + errno_text()};
  if (Status s = sync_directory_of(path); !s.ok()) return Error{"checkpoint " + path + ": " + s.message()};
  return {};
}
}  // namespace

Status write_checkpoint_file(const std::string& path, std::string_view payload) {
  if (Status s = write_synced(path + ".tmp", {checkpoint_header(payload), payload, checkpoint_trailer(payload)});
      !s.ok())
    return Error{"checkpoint " + path + " not written (the previous one is kept): " + s.message()};
  return install(path);
}

StreamedCheckpoint::StreamedCheckpoint(std::string path) : path_(std::move(path)) {
  payload_.spill_to([this](std::string block) { take(std::move(block)); });
}

StreamedCheckpoint::~StreamedCheckpoint() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink((path_ + ".tmp").c_str());
  }
}

void StreamedCheckpoint::take(std::string block) {
  {
    std::lock_guard lock(mu_);
    blocks_.push_back(std::move(block));
  }
  cv_.notify_all();
}

void StreamedCheckpoint::finish() {
  payload_.flush_spill();
  {
    std::lock_guard lock(mu_);
    finished_ = true;
  }
  cv_.notify_all();
}

void StreamedCheckpoint::abandon() {
  {
    std::lock_guard lock(mu_);
    abandoned_ = true;
  }
  cv_.notify_all();
}

uint64_t StreamedCheckpoint::payload_bytes() const { return payload_.size(); }

void StreamedCheckpoint::fail(const std::string& why) {
  if (error_.empty()) error_ = why;
}

bool StreamedCheckpoint::write_all(std::string_view bytes) {
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      fail("cannot write " + path_ + ".tmp: " + errno_text());
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

void StreamedCheckpoint::write_payload() {
  const std::string tmp = path_ + ".tmp";
  fd_ = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("cannot create " + tmp + ": " + errno_text());
  // The header's place; its length is known at commit().
  if (error_.empty()) write_all(std::string(kHeader, '\0'));
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return !blocks_.empty() || finished_ || abandoned_; });
    if (abandoned_) {
      fail("abandoned before its payload was complete");
      return;
    }
    if (blocks_.empty()) return;  // finished, and everything written
    std::string block = std::move(blocks_.front());
    blocks_.pop_front();
    lock.unlock();
    // After a failure the rest is only dropped (its memory back).
    if (error_.empty() && write_all(block)) written_ += block.size();
    lock.lock();
  }
}

Status StreamedCheckpoint::commit() {
  const std::string tmp = path_ + ".tmp";
  auto failed = [&](const std::string& why) {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
      ::unlink(tmp.c_str());
    }
    return Status(Error{"checkpoint " + path_ + " not written (the previous one is kept): " + why});
  };
  if (!error_.empty()) return failed(error_);
  const uint64_t size = written_;
  auto put = [&](const void* bytes, size_t n, uint64_t at) {
    for (size_t done = 0; done < n;) {
      const ssize_t w = ::pwrite(fd_, static_cast<const char*>(bytes) + done, n - done, static_cast<off_t>(at + done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return false;
      done += static_cast<size_t>(w);
    }
    return true;
  };
  for (const auto& [at, value] : payload_.spilled_patches())
    if (!put(&value, sizeof value, kHeader + at)) return failed("cannot write " + tmp + ": " + errno_text());
  // The payload read back for its checksum, in parts of a multiple of 8 bytes.
  Checksum64 sum(size);
  std::string part(ByteWriter::kSpillBytes, '\0');
  for (uint64_t done = 0; done < size;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(part.size(), size - done));
    const ssize_t n = ::pread(fd_, part.data(), want, static_cast<off_t>(kHeader + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed("cannot read back " + tmp + ": " + errno_text());
    if (static_cast<size_t>(n) != want) return failed(tmp + " is shorter than what was written to it");
    sum.add(std::string_view(part.data(), want));
    done += want;
  }
  ByteWriter header, trailer;  // as checkpoint_header() and checkpoint_trailer() write them
  header.raw(kMagic.data(), kMagic.size());
  header.u32(kCheckpointVersion);
  header.u64(size);
  trailer.u64(sum.value());
  if (!put(header.bytes().data(), kHeader, 0) || !put(trailer.bytes().data(), 8, kHeader + size))
    return failed("cannot write " + tmp + ": " + errno_text());
  if (::fsync(fd_) != 0) return failed("cannot fsync " + tmp + ": " + errno_text());
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Error{"checkpoint " + path_ + " not written (the previous one is kept): cannot close " + tmp + ": " +
                 errno_text()};
  }
  return install(path_);
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
