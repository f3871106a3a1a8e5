// Little-endian binary encoding for checkpoints.
//
// ByteWriter appends to a string it owns; in spill mode (spill_to) it hands
// each ~kSpillBytes it has written to a sink as it goes (a file's writer on
// another thread), so that it never holds a payload of hundreds of
// megabytes whole. ByteReader reads from a view of
// bytes it does not own (the caller keeps them alive); it never reads out of
// bounds: the first short read or bad value sets a sticky error, after which
// every get returns zeros and ok() is false. Neither is thread-safe.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace streamrec::learner {

class ByteWriter {
 public:
  ByteWriter() = default;
  // Goes on after `start` (bytes another writer took).
  explicit ByteWriter(std::string start) : bytes_(std::move(start)) {}
  void u8(uint8_t v) { raw(&v, 1); }
  void u32(uint32_t v) { raw(&v, 4); }
  void u64(uint64_t v) { raw(&v, 8); }
  void i64(int64_t v) { raw(&v, 8); }
  void f32(float v) { raw(&v, 4); }
  void f64(double v) { raw(&v, 8); }
  void str(std::string_view s) {
    u64(s.size());
    raw(s.data(), s.size());
  }
  void floats(const float* p, size_t n) { raw(p, n * sizeof(float)); }
  template <class T>
  void pod_vector(const std::vector<T>& v) {
    u64(v.size());
    raw(v.data(), v.size() * sizeof(T));
  }
  void raw(const void* p, size_t n) {
    if (spill_ && bytes_.size() + n > kSpillBytes) return spill(p, n);
    bytes_.append(static_cast<const char*>(p), n);
  }
  // Room for `bytes` in all, so that a large payload is not copied as it grows.
  void reserve(size_t bytes) { bytes_.reserve(bytes); }
  // Overwrites the u64 written at byte `at` (a length known only later).
  void patch_u64(uint64_t at, uint64_t v);
  // Bytes written so far (spilled ones included).
  uint64_t size() const { return spilled_ + bytes_.size(); }

  // Spill mode from now on: the bytes held go to `sink`, in order, whenever
  // about kSpillBytes are held (and at flush_spill()). A patch_u64 of bytes
  // already spilled is kept in spilled_patches() for the sink's owner to
  // apply: (offset, value).
  using Sink = std::function<void(std::string block)>;
  static constexpr size_t kSpillBytes = size_t{4} << 20;
  void spill_to(Sink sink) { spill_ = std::move(sink); }
  void flush_spill();
  const std::vector<std::pair<uint64_t, uint64_t>>& spilled_patches() const { return spilled_patches_; }

  // Not in spill mode: the bytes.
  const std::string& bytes() const { return bytes_; }
  std::string take() { return std::move(bytes_); }

 private:
  void spill(const void* p, size_t n);

  std::string bytes_;  // x86-64 and aarch64 are little-endian; static_assert below
  Sink spill_;
  uint64_t spilled_ = 0;  // bytes handed to spill_
  std::vector<std::pair<uint64_t, uint64_t>> spilled_patches_;
};
static_assert(std::endian::native == std::endian::little, "checkpoints are little-endian");

class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : bytes_(bytes) {}

  uint8_t u8() { return get<uint8_t>(); }
  uint32_t u32() { return get<uint32_t>(); }
  uint64_t u64() { return get<uint64_t>(); }
  int64_t i64() { return get<int64_t>(); }
  float f32() { return get<float>(); }
  double f64() { return get<double>(); }
  std::string str() {
    uint64_t n = u64();
    if (!need(n)) return {};
    std::string s(bytes_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  void floats(float* p, size_t n) { raw(p, n * sizeof(float)); }
  template <class T>
  bool pod_vector(std::vector<T>& v) {
    uint64_t n = u64();
    if (!ok() || n > (bytes_.size() - pos_) / sizeof(T)) {
      fail("truncated array");
      return false;
    }
    v.resize(n);
    raw(v.data(), n * sizeof(T));
    return ok();
  }
  void raw(void* p, size_t n) {
    if (n == 0) return;  // p may be an empty vector's null data()
    if (!need(n)) {
      std::memset(p, 0, n);
      return;
    }
    std::memcpy(p, bytes_.data() + pos_, n);
    pos_ += n;
  }

  // Records an error (the first one wins).
  void fail(const std::string& why) {
    if (error_.empty()) error_ = why + " at byte " + std::to_string(pos_);
  }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  bool at_end() const { return pos_ == bytes_.size(); }
  size_t remaining() const { return bytes_.size() - pos_; }

 private:
  template <class T>
  T get() {
    T v{};
    raw(&v, sizeof v);
    return v;
  }
  bool need(uint64_t n) {
    if (!ok()) return false;
    if (n > bytes_.size() - pos_) {
      fail("truncated data");
      return false;
    }
    return true;
  }

  std::string_view bytes_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace streamrec::learner
