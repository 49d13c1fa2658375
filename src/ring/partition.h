// Partitions: the ring's unit of ownership. The 16384 Redis Cluster hash
// slots (util/crc16.h) are cut into Q equal, contiguous partitions, Q a power
// of two fixed when the cluster is created (DESIGN.md section 3; Dynamo's
// strategy 3, "Q/S tokens per node, equal-sized partitions"). Partition p
// covers slots [p * 16384 / Q, (p + 1) * 16384 / Q), so a partition is a
// contiguous range of storage keys (whose first two bytes are the slot).
//
// Thread safety: constants and pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "util/crc16.h"

namespace kv::ring {

constexpr uint32_t kDefaultPartitions = 256;
constexpr uint32_t kMaxPartitions = util::kSlotCount;  // one slot per partition

// True if q is a power of two in [1, kMaxPartitions].
constexpr bool IsValidPartitionCount(uint32_t q) {
  return q >= 1 && q <= kMaxPartitions && (q & (q - 1)) == 0;
}

// The half-open slot range [begin, end) of one partition.
struct SlotRange {
  uint32_t begin = 0;
  uint32_t end = 0;
  bool operator==(const SlotRange&) const = default;
};

// REQUIRES: IsValidPartitionCount(q), slot < kSlotCount.
constexpr uint32_t PartitionOfSlot(uint32_t slot, uint32_t q) {
  return static_cast<uint32_t>(uint64_t{slot} * q / util::kSlotCount);
}

// REQUIRES: IsValidPartitionCount(q), p < q.
constexpr SlotRange SlotsOfPartition(uint32_t p, uint32_t q) {
  return SlotRange{static_cast<uint32_t>(uint64_t{p} * util::kSlotCount / q),
                   static_cast<uint32_t>(uint64_t{p + 1} * util::kSlotCount / q)};
}

// The partition of a user key: its Redis Cluster slot ({hashtag} rule
// included), then PartitionOfSlot. REQUIRES: IsValidPartitionCount(q).
inline uint32_t PartitionOfKey(std::string_view key, uint32_t q) {
  return PartitionOfSlot(util::KeySlot(key), q);
}

}  // namespace kv::ring
