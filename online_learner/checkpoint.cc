#include "online_learner/checkpoint.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
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

std::string wrap_checkpoint(std::string_view payload) {
  ByteWriter w;
  w.raw(kMagic.data(), kMagic.size());
  w.u32(kCheckpointVersion);
  w.u64(payload.size());
  w.raw(payload.data(), payload.size());
  w.u64(checksum64(payload));
  return w.take();
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

Status write_checkpoint_file(const std::string& path, std::string_view payload) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    std::string file = wrap_checkpoint(payload);
    out.write(file.data(), static_cast<std::streamsize>(file.size()));
    out.flush();
    if (!out) return Error{"checkpoint " + path + ": cannot write " + tmp + ": " + std::strerror(errno)};
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return Error{"checkpoint " + path + ": cannot rename into place: " + std::strerror(errno)};
  return {};
}

Result<std::string> read_checkpoint_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"checkpoint " + path + ": cannot be opened: " + std::strerror(errno)};
  std::ostringstream buf;
  buf << in.rdbuf();
  return unwrap_checkpoint(buf.str(), path);
}

}  // namespace streamrec::learner
