// Ring (ring/ring.h): building, version order, moves between rings, and the
// binary encoding of FORMAT.md: golden bytes, round trips, every truncation
// and corruption rejected as Corruption without reading out of bounds.
#include "ring/ring.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../test_util.h"
#include "ring/claim.h"
#include "ring/partition.h"
#include "ring_test_util.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/random.h"

namespace kv::ring {
namespace {

using kv::test::Escape;
using test::MakeMembers;
using test::MustClaim;
using test::MustNewRing;

// The FORMAT.md worked example.
Ring ExampleRing() {
  Ring ring;
  Status s = Ring::Build(7, 0x0102030405060708ULL, {{0x22, "", 2}, {0x11, "a", 1}},
                         {0x11, 0x22, 0x22, 0x11}, &ring);
  REQUIRE(s.ok());
  return ring;
}

std::string Encode(const Ring& ring) {
  std::string out;
  EncodeRing(ring, &out);
  return out;
}

// Decodes a heap copy of exactly `bytes`, so ASan sees any over-read.
Status DecodeCopy(std::string_view bytes, Ring* out) {
  auto copy = std::make_unique<char[]>(bytes.empty() ? 1 : bytes.size());
  if (!bytes.empty()) memcpy(copy.get(), bytes.data(), bytes.size());
  return DecodeRing(std::string_view(copy.get(), bytes.size()), out);
}

// Replaces the trailing checksum so a corruption reaches the field checks.
std::string Reseal(std::string bytes) {
  bytes.resize(bytes.size() - 4);
  util::PutFixed32(&bytes, util::crc32c::Mask(util::crc32c::Value(bytes.data(), bytes.size())));
  return bytes;
}

TEST_CASE("Build sorts members by id and maps owners") {
  Ring ring = ExampleRing();
  CHECK(ring.epoch() == 7);
  CHECK(ring.author() == 0x0102030405060708ULL);
  CHECK(ring.partitions() == 4);
  REQUIRE(ring.members().size() == 2);
  CHECK(ring.members()[0].id == 0x11);
  CHECK(ring.members()[1].id == 0x22);
  CHECK(ring.Owners() == std::vector<uint64_t>{0x11, 0x22, 0x22, 0x11});
  CHECK(ring.PartitionsOf(0x22) == std::vector<uint32_t>{1, 2});
  CHECK(ring.PartitionsOf(0x33).empty());
  CHECK(ring.Counts() == std::vector<uint32_t>{2, 2});
  CHECK(ring.FindMember(0x11)->zone == "a");
  CHECK(ring.FindMember(0x33) == nullptr);
}

TEST_CASE("Build rejects broken rings") {
  Ring ring;
  std::vector<Member> m = {{1, "", 1}};
  CHECK(Ring::Build(0, 1, m, {1}, &ring).IsInvalidArgument());        // epoch 0
  CHECK(Ring::Build(1, 0, m, {1}, &ring).IsInvalidArgument());        // author 0
  CHECK(Ring::Build(1, 1, m, {}, &ring).IsInvalidArgument());         // Q = 0
  CHECK(Ring::Build(1, 1, m, {1, 1, 1}, &ring).IsInvalidArgument());  // Q = 3
  CHECK(Ring::Build(1, 1, m, {2}, &ring).IsInvalidArgument());        // owner not a member
  CHECK(Ring::Build(1, 1, {}, {1}, &ring).IsInvalidArgument());       // no members
  CHECK(Ring::Build(1, 1, {{1, "", 1}, {1, "", 1}}, {1}, &ring).IsInvalidArgument());
  CHECK(Ring::Build(1, 1, {{1, "", 0}}, {1}, &ring).IsInvalidArgument());
  CHECK(Ring::Build(1, 1, {{1, "", 65536}}, {1}, &ring).IsInvalidArgument());
  CHECK(Ring::Build(1, 1, {{0, "", 1}}, {0}, &ring).IsInvalidArgument());
  CHECK(ring.partitions() == 0);
}

TEST_CASE("the higher epoch wins, ties go to the higher author id") {
  Ring a;
  Ring b;
  REQUIRE(Ring::Build(5, 10, {{1, "", 1}}, {1}, &a).ok());
  REQUIRE(Ring::Build(4, 99, {{1, "", 1}}, {1}, &b).ok());
  CHECK(IsNewerRing(a, b));
  CHECK_FALSE(IsNewerRing(b, a));
  REQUIRE(Ring::Build(5, 11, {{1, "", 1}}, {1}, &b).ok());
  CHECK(IsNewerRing(b, a));
  CHECK_FALSE(IsNewerRing(a, a));
}

TEST_CASE("Moves lists the partitions that change hands, ascending") {
  Ring a = ExampleRing();
  Ring b;
  REQUIRE(Ring::Build(8, 1, {{0x22, "", 2}, {0x11, "a", 1}, {0x33, "b", 1}},
                      {0x33, 0x22, 0x11, 0x11}, &b)
              .ok());
  CHECK(Moves(a, b) == std::vector<Move>{{0, 0x11, 0x33}, {2, 0x22, 0x11}});
  CHECK(Moves(a, a).empty());
}

TEST_CASE("EncodeRing writes the FORMAT.md worked example byte for byte") {
  std::string bytes = Encode(ExampleRing());
  static const char kBody[] =
      "\x01"                              // format 1
      "\x07"                              // epoch 7
      "\x08\x07\x06\x05\x04\x03\x02\x01"  // author
      "\x02"                              // Q = 1 << 2
      "\x02"                              // two members
      "\x11\x00\x00\x00\x00\x00\x00\x00"  // id 0x11
      "\x01"                              // weight 1
      "\x01"
      "a"                                 // zone "a"
      "\x22\x00\x00\x00\x00\x00\x00\x00"  // id 0x22
      "\x02"                              // weight 2
      "\x00"                              // zone ""
      "\x00\x01\x01\x00";                 // owners by member index
  std::string body(kBody, sizeof(kBody) - 1);
  CHECK(body.size() == 1 + 1 + 8 + 1 + 1 + 8 + 1 + 1 + 1 + 8 + 1 + 1 + 4);
  REQUIRE(bytes.size() == body.size() + 4);
  CHECK(Escape(bytes.substr(0, body.size())) == Escape(body));
  uint32_t crc = util::crc32c::Mask(util::crc32c::Value(body.data(), body.size()));
  CHECK(util::DecodeFixed32(bytes.data() + body.size()) == crc);
  MESSAGE("example ring: " << Escape(bytes));
  Ring decoded;
  REQUIRE(DecodeCopy(bytes, &decoded).ok());
  CHECK(decoded == ExampleRing());
}

TEST_CASE("claimed rings round-trip through EncodeRing / DecodeRing") {
  for (uint32_t q : {1u, 2u, 256u, 4096u, 16384u}) {
    for (int k : {1, 3, 7, 200}) {
      std::vector<Member> members = MakeMembers(k, 3);
      for (size_t i = 0; i < members.size(); i++) members[i].weight = 1 + i % 3;
      Ring ring = MustNewRing(q, members);
      std::string bytes = Encode(ring);
      Ring decoded;
      Status s = DecodeCopy(bytes, &decoded);
      REQUIRE_MESSAGE(s.ok(), s.ToString());
      CHECK(decoded == ring);
      std::string again = Encode(decoded);
      CHECK(again == bytes);
    }
  }
}

TEST_CASE("every truncation of an encoded ring is Corruption") {
  Ring ring = MustClaim(MustNewRing(64, MakeMembers(5, 3)), MakeMembers(6, 3));
  std::string bytes = Encode(ring);
  for (size_t n = 0; n < bytes.size(); n++) {
    Ring out;
    Status s = DecodeCopy(std::string_view(bytes).substr(0, n), &out);
    CAPTURE(n);
    CHECK(s.IsCorruption());
    CHECK(out.partitions() == 0);
  }
  // Truncated but resealed: the checksum matches, the fields must not.
  for (size_t n = 1; n < bytes.size() - 4; n++) {
    Ring out;
    CAPTURE(n);
    CHECK(DecodeCopy(Reseal(bytes.substr(0, n) + "0000"), &out).IsCorruption());
  }
  // Trailing bytes.
  Ring out;
  CHECK(DecodeCopy(Reseal(bytes.substr(0, bytes.size() - 4) + "x0000"), &out).IsCorruption());
}

TEST_CASE("corrupt encodings are rejected, with or without a valid checksum") {
  Ring ring = MustNewRing(32, MakeMembers(4, 2));
  std::string bytes = Encode(ring);
  Ring out;
  // Every single bit flip is caught by the checksum.
  for (size_t i = 0; i < bytes.size(); i++) {
    for (int bit = 0; bit < 8; bit++) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      CAPTURE(i);
      CHECK(DecodeCopy(bad, &out).IsCorruption());
    }
  }
  // Field checks behind a valid checksum. Offsets follow FORMAT.md: format
  // 0, epoch 1 (one byte, epoch 1), author 2..9, log2 10, count 11,
  // members from 12 (18 bytes each here: id, weight, zone "zN").
  auto with = [&](size_t offset, char value) {
    std::string b = bytes;
    b[offset] = value;
    return Reseal(b);
  };
  CHECK(DecodeCopy(with(0, 2), &out).IsCorruption());                 // unknown format
  CHECK(DecodeCopy(with(1, 0), &out).IsCorruption());                 // epoch 0
  CHECK(DecodeCopy(with(10, 15), &out).IsCorruption());               // Q = 32768
  CHECK(DecodeCopy(with(10, 4), &out).IsCorruption());                // Q mismatch with owners
  CHECK(DecodeCopy(with(11, 0), &out).IsCorruption());                // no members
  CHECK(DecodeCopy(with(11, 0x7f), &out).IsCorruption());             // too many members
  CHECK(DecodeCopy(with(12 + 8, 0), &out).IsCorruption());            // weight 0
  CHECK(DecodeCopy(with(12 + 9, 0x7f), &out).IsCorruption());         // zone longer than the input
  CHECK(DecodeCopy(with(bytes.size() - 5, 9), &out).IsCorruption());  // owner index 9 of 4
  std::string ids = bytes;  // second member id equal to the first
  memcpy(&ids[12 + 12], &ids[12], 8);
  CHECK(DecodeCopy(Reseal(ids), &out).IsCorruption());
  std::string zero = bytes;  // first member id 0
  memset(&zero[12], 0, 8);
  CHECK(DecodeCopy(Reseal(zero), &out).IsCorruption());
  CHECK(out.partitions() == 0);

  // Random garbage, sealed and not.
  uint64_t seed = kv::test::TestSeed(99);
  util::Random rnd(seed);
  for (int round = 0; round < 5000; round++) {
    std::string b = bytes;
    int edits = 1 + static_cast<int>(rnd.Uniform(4));
    for (int e = 0; e < edits; e++) {
      b[rnd.Uniform(b.size() - 4)] = static_cast<char>(rnd.Uniform(256));
    }
    if (rnd.Uniform(4) == 0) b.resize(rnd.Uniform(b.size()));
    Ring r;
    Status s = DecodeCopy(rnd.Uniform(2) == 0 || b.size() < 5 ? b : Reseal(b), &r);
    if (s.ok()) {
      // Only a still well-formed ring may decode, and then it re-encodes.
      std::string again = Encode(r);
      Ring r2;
      CHECK(DecodeCopy(again, &r2).ok());
    } else {
      CHECK(s.IsCorruption());
    }
  }
}

}  // namespace
}  // namespace kv::ring
