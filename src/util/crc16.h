// CRC16-CCITT (XMODEM) and Redis Cluster's key -> hash slot rule, including
// the {hashtag} convention, so cluster-aware clients compute the same slot.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

namespace kv::util {

constexpr uint32_t kSlotCount = 16384;  // DO NOT CHANGE: part of the storage key

uint16_t Crc16(std::string_view data);
// Slot of `key`: CRC16 of the first non-empty {...} section if there is one,
// of the whole key otherwise, modulo 16384.
uint16_t KeySlot(std::string_view key);

}  // namespace kv::util
