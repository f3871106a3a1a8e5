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
  // raw() spills before a write that does not fit, so a u64 is either all
  // held or all handed over: then the patch is the sink owner's to apply.
  if (at >= spilled_) std::memcpy(bytes_.data() + (at - spilled_), &v, sizeof v);
  else spilled_patches_.emplace_back(at, v);
}

}  // namespace streamrec::learner
