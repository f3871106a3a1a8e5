// Floats as unsigned integers in the same order, for radix sorts and
// bit-by-bit selection: a < b (neither NaN) iff float_order_key(a) <
// float_order_key(b), and equal floats (-0 and +0 too) get equal keys.
// Pure function, thread-safe.
#pragma once

#include <bit>
#include <cstdint>

namespace streamrec::learner {

inline uint32_t float_order_key(float f) {
  if (f == 0.0f) return 0x80000000u;  // -0 == +0
  uint32_t u = std::bit_cast<uint32_t>(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);  // negatives reversed
}

}  // namespace streamrec::learner
