// CRC32C (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78).
//
// Two implementations with identical results:
//  - software: "slicing by 8" (Intel's technique, Kounavis and Berry, "A
//    Systematic Approach to Building High Performance Software-Based CRC
//    Generators", 2005): eight 256-entry tables built at compile time let the
//    loop consume 8 bytes per iteration with independent lookups;
//  - hardware: the SSE4.2 `crc32` instruction, 8 bytes per instruction.
// The choice is made once, at first use, from CPUID, so one binary runs on
// any x86-64 and uses the instruction where it exists.
//
// ExtendSoftware, ExtendHardware and HaveHardware have external linkage
// only so tests/unit/util/crc32c_test.cc can check that both paths agree; they
// are not part of util/crc32c.h's interface.
#include "util/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#define KV_CRC32C_HAVE_X86 1
#else
#define KV_CRC32C_HAVE_X86 0
#endif

namespace kv::util::crc32c {

namespace {

constexpr uint32_t kPolyReflected = 0x82F63B78u;

using Tables = std::array<std::array<uint32_t, 256>, 8>;

// tables[0][b] is the CRC register after shifting in byte b; tables[k][b] is
// tables[0][b] advanced by k more zero bytes, so a byte at distance k from the
// end of an 8-byte word can be looked up independently of the others.
constexpr Tables MakeTables() {
  Tables t{};
  for (uint32_t b = 0; b < 256; b++) {
    uint32_t crc = b;
    for (int bit = 0; bit < 8; bit++) crc = (crc >> 1) ^ ((crc & 1) ? kPolyReflected : 0);
    t[0][b] = crc;
  }
  for (uint32_t b = 0; b < 256; b++) {
    for (size_t k = 1; k < 8; k++) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
  }
  return t;
}

constexpr Tables kTables = MakeTables();

inline uint32_t LoadLe32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

using ExtendFn = uint32_t (*)(uint32_t, const char*, size_t);

ExtendFn ChooseImplementation();

}  // namespace

uint32_t ExtendSoftware(uint32_t init, const char* data, size_t n) {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  uint32_t crc = init ^ 0xFFFFFFFFu;
  // Byte at a time until 8-byte aligned, so the word loop reads aligned words.
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    crc = (crc >> 8) ^ kTables[0][(crc ^ *p) & 0xff];
    p++;
    n--;
  }
  while (n >= 8) {
    uint32_t lo = LoadLe32(p) ^ crc;
    uint32_t hi = LoadLe32(p + 4);
    crc = kTables[7][lo & 0xff] ^ kTables[6][(lo >> 8) & 0xff] ^ kTables[5][(lo >> 16) & 0xff] ^
          kTables[4][lo >> 24] ^ kTables[3][hi & 0xff] ^ kTables[2][(hi >> 8) & 0xff] ^
          kTables[1][(hi >> 16) & 0xff] ^ kTables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    crc = (crc >> 8) ^ kTables[0][(crc ^ *p) & 0xff];
    p++;
    n--;
  }
  return crc ^ 0xFFFFFFFFu;
}

#if KV_CRC32C_HAVE_X86

bool HaveHardware() { return __builtin_cpu_supports("sse4.2"); }

__attribute__((target("sse4.2"))) uint32_t ExtendHardware(uint32_t init, const char* data,
                                                          size_t n) {
  const char* p = data;
  uint64_t crc = init ^ 0xFFFFFFFFu;
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    crc = _mm_crc32_u8(static_cast<uint32_t>(crc), static_cast<uint8_t>(*p));
    p++;
    n--;
  }
  while (n >= 8) {
    uint64_t word;
    memcpy(&word, p, 8);  // x86 is little-endian: the byte order the CRC consumes
    crc = _mm_crc32_u64(crc, word);
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    crc = _mm_crc32_u8(static_cast<uint32_t>(crc), static_cast<uint8_t>(*p));
    p++;
    n--;
  }
  return static_cast<uint32_t>(crc) ^ 0xFFFFFFFFu;
}

#else

bool HaveHardware() { return false; }
uint32_t ExtendHardware(uint32_t init, const char* data, size_t n) {
  return ExtendSoftware(init, data, n);
}

#endif

namespace {
ExtendFn ChooseImplementation() { return HaveHardware() ? &ExtendHardware : &ExtendSoftware; }
}  // namespace

uint32_t Extend(uint32_t init, const char* data, size_t n) {
  // Initialised once, thread safe (C++11 magic statics).
  static const ExtendFn kImpl = ChooseImplementation();
  return kImpl(init, data, n);
}

}  // namespace kv::util::crc32c
