#include "online_learner/byte_io.h"

namespace streamrec::learner {

void ByteWriter::spill(const void* p, size_t n) {
  flush_spill();
  if (n < kSpillBytes) bytes_.append(static_cast<const char*>(p), n);
  else {  // a large array goes as a block of its own
    spilled_ += n;
    spill_(std::string(static_cast<const char*>(p), n));
  }
}

void ByteWriter::flush_spill() {
  if (!spill_ || bytes_.empty()) return;
  spilled_ += bytes_.size();
  std::string block;
  block.reserve(kSpillBytes);
  block.swap(bytes_);
  spill_(std::move(block));
}

void ByteWriter::patch_u64(uint64_t at, uint64_t v) {
  if (at >= spilled_) {
    std::memcpy(bytes_.data() + (at - spilled_), &v, sizeof v);
    return;
  }
  // Some of its bytes are spilled: the whole patch is the sink owner's (the
  // bytes still held are patched here too, so both agree).
  spilled_patches_.emplace_back(at, v);
  if (at + sizeof v > spilled_) {
    const size_t in_file = static_cast<size_t>(spilled_ - at);
    std::memcpy(bytes_.data(), reinterpret_cast<const char*>(&v) + in_file, sizeof v - in_file);
  }
}

}  // namespace streamrec::learner
