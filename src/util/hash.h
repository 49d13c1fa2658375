// Hash64: a fast, well-mixed 64-bit hash for in-memory hash tables (not for
// anything persisted or security relevant). Reads 8 bytes at a time and
// finishes with a murmur-style avalanche.
//
// Thread safety: pure function.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace kv::util {

inline uint64_t Mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

inline uint64_t Hash64(std::string_view s, uint64_t seed = 0x9ae16a3b2f90404fULL) {
  const uint64_t k = 0x87c37b91114253d5ULL;
  uint64_t h = seed ^ (s.size() * k);
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = (h ^ Mix64(w * k)) * 0x4cf5ad432745937fULL;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ Mix64(w * k + n)) * 0x4cf5ad432745937fULL;
  }
  return Mix64(h);
}

}  // namespace kv::util
