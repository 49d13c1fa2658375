// Slots and partitions (ring/partition.h): Redis Cluster's slot vectors
// through PartitionOfKey, and partitions tiling the slot space.
#include "ring/partition.h"

#include <doctest/doctest.h>

#include <cstdint>

namespace kv::ring {
namespace {

TEST_CASE("partition counts are powers of two from 1 to 16384") {
  CHECK(IsValidPartitionCount(1));
  CHECK(IsValidPartitionCount(256));
  CHECK(IsValidPartitionCount(16384));
  CHECK_FALSE(IsValidPartitionCount(0));
  CHECK_FALSE(IsValidPartitionCount(3));
  CHECK_FALSE(IsValidPartitionCount(255));
  CHECK_FALSE(IsValidPartitionCount(32768));
  CHECK(kDefaultPartitions == 256);
}

TEST_CASE("partitions tile the 16384 slots in equal contiguous ranges") {
  for (uint32_t q = 1; q <= kMaxPartitions; q *= 2) {
    CAPTURE(q);
    uint32_t next = 0;
    for (uint32_t p = 0; p < q; p++) {
      SlotRange r = SlotsOfPartition(p, q);
      REQUIRE(r.begin == next);
      REQUIRE(r.end - r.begin == util::kSlotCount / q);
      REQUIRE(PartitionOfSlot(r.begin, q) == p);
      REQUIRE(PartitionOfSlot(r.end - 1, q) == p);
      next = r.end;
    }
    CHECK(next == util::kSlotCount);
  }
  CHECK(SlotsOfPartition(1, 256) == SlotRange{64, 128});
}

TEST_CASE("keys map to partitions through Redis Cluster's slots and hashtags") {
  // Redis Cluster spec vectors (CRC16 "123456789" = 0x31C3 -> slot 12739).
  CHECK(PartitionOfKey("123456789", 16384) == 12739);
  CHECK(PartitionOfKey("123456789", 256) == 12739 / 64);
  CHECK(PartitionOfKey("foo", 256) == 12182 / 64);
  CHECK(PartitionOfKey("{user1000}.following", 256) == PartitionOfKey("{user1000}.followers", 256));
  CHECK(PartitionOfKey("{user1000}.following", 16384) == 3443);
  CHECK(PartitionOfKey("foo{}{bar}", 16384) == 8363);     // whole key
  CHECK(PartitionOfKey("foo{{bar}}zap", 16384) == 4015);  // "{bar"
  CHECK(PartitionOfKey("foo{bar}{zap}", 16384) == util::KeySlot("bar"));
  CHECK(PartitionOfKey("anything", 1) == 0);
}

}  // namespace
}  // namespace kv::ring
