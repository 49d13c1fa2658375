// A small, fast, seedable PRNG (splitmix64). Deterministic for a seed, so
// tests and simulations replay; seeded from the OS where unpredictability
// matters (node ids).
//
// Thread safety: one instance per thread.
#pragma once

#include <cstdint>

namespace kv::util {

class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); n > 0.
  uint64_t Uniform(uint64_t n) { return Next() % n; }

 private:
  uint64_t state_;
};

// 64 bits from getrandom(2), for seeds and ids.
uint64_t OsRandom64();

}  // namespace kv::util
