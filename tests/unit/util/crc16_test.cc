// CRC16 (XMODEM) and KeySlot against the Redis Cluster specification's
// vectors; the other expected slots were computed with an independent
// Python CRC16-XMODEM.
#include "util/crc16.h"

#include <doctest/doctest.h>

#include <string>

namespace kv::util {
namespace {

TEST_CASE("Crc16 is CRC16-XMODEM: the check value of \"123456789\" is 0x31C3") {
  CHECK(Crc16("123456789") == 0x31C3);
  CHECK(Crc16("") == 0);
  CHECK(Crc16("foo") == 0xAF96);
  CHECK(Crc16("bar") == 0x93C5);
}

TEST_CASE("KeySlot is CRC16 of the key modulo 16384") {
  CHECK(KeySlot("foo") == 12182);
  CHECK(KeySlot("bar") == 5061);
  CHECK(KeySlot("123456789") == 12739);
  CHECK(KeySlot("") == 0);
  CHECK(KeySlot("user1000") == 3443);
}

TEST_CASE("keys sharing a {hashtag} share a slot") {
  CHECK(KeySlot("{user1000}.following") == KeySlot("user1000"));
  CHECK(KeySlot("{user1000}.followers") == KeySlot("user1000"));
  CHECK(KeySlot("{user1000}.following") == 3443);
  CHECK(KeySlot("foo{bar}") == KeySlot("bar"));
}

TEST_CASE("only the first {...} counts, and an empty one means the whole key") {
  CHECK(KeySlot("foo{}{bar}") == Crc16("foo{}{bar}") % kSlotCount);
  CHECK(KeySlot("foo{}{bar}") == 8363);
  CHECK(KeySlot("foo{{bar}}zap") == KeySlot("{bar"));
  CHECK(KeySlot("foo{{bar}}zap") == 4015);
  CHECK(KeySlot("foo{bar}{zap}") == KeySlot("bar"));
  // An unclosed brace hashes the whole key.
  CHECK(KeySlot("foo{bar") == Crc16("foo{bar") % kSlotCount);
  CHECK(KeySlot("}{x}") == KeySlot("x"));
}

TEST_CASE("every slot is below kSlotCount") {
  for (int i = 0; i < 100000; i++) CHECK_LT(KeySlot("key:" + std::to_string(i)), kSlotCount);
}

}  // namespace
}  // namespace kv::util
