// Stable 64-bit hashing for feature keys and partitioning. Values never
// change between releases or machines: checkpoints and Redis data depend on
// them. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace streamrec {

// 64-bit FNV-1a followed by a murmur3 finalizer for avalanche.
constexpr uint64_t hash64(std::string_view s, uint64_t seed = 0) {
  uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

// Mixes a field id into a hashed value so equal strings in different fields
// (user "42" and item "42") get different keys.
constexpr uint64_t feature_key(uint32_t field, std::string_view value) {
  return hash64(value, 0x9e3779b97f4a7c15ULL * (field + 1));
}

}  // namespace streamrec
