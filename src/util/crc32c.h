// CRC32C (Castagnoli), the checksum of every WAL record, SSTable block and
// manifest record. Uses the SSE4.2 crc32 instruction when the CPU has it,
// a table-driven software fallback otherwise; both give identical results.
// Masked form (LevelDB's): storing the CRC of data that itself contains
// CRCs is weak, so stored checksums are rotated and offset.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kv::util::crc32c {

// CRC32C of data[0, n) continuing from `init` (the CRC of earlier bytes).
uint32_t Extend(uint32_t init, const char* data, size_t n);
inline uint32_t Value(const char* data, size_t n) { return Extend(0, data, n); }

constexpr uint32_t kMaskDelta = 0xa282ead8u;  // DO NOT CHANGE: on disk
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace kv::util::crc32c
