// Record encoding (FORMAT.md "Record value"): round trips, the winner rule,
// and every malformed input rejected as Corruption without a crash.
#include "storage/record.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "../test_util.h"
#include "util/random.h"

namespace kv::storage {
namespace {

using namespace std::string_literals;

VersionView Version(uint64_t node, uint64_t counter, int64_t ts, std::string_view value,
                    int64_t expire = 0, bool tombstone = false) {
  VersionView v;
  v.dot = {node, counter};
  v.timestamp_ms = ts;
  v.expire_at_ms = expire;
  v.tombstone = tombstone;
  v.value = value;
  return v;
}

void CheckSame(const RecordView& got, const std::vector<Dot>& context,
               const std::vector<VersionView>& siblings) {
  REQUIRE(got.context.size() == context.size());
  for (size_t i = 0; i < context.size(); i++) {
    CHECK(got.context[i].node == context[i].node);
    CHECK(got.context[i].counter == context[i].counter);
  }
  REQUIRE(got.siblings.size() == siblings.size());
  for (size_t i = 0; i < siblings.size(); i++) {
    CAPTURE(i);
    const VersionView& a = got.siblings[i];
    const VersionView& b = siblings[i];
    CHECK(a.dot.node == b.dot.node);
    CHECK(a.dot.counter == b.dot.counter);
    CHECK(a.timestamp_ms == b.timestamp_ms);
    CHECK(a.expire_at_ms == b.expire_at_ms);
    CHECK(a.tombstone == b.tombstone);
    if (b.tombstone) {
      CHECK(a.value.empty());
    } else {
      CHECK(test::Escape(a.value) == test::Escape(b.value));
    }
  }
}

// A few records of different shapes, for round trips and corruption tests.
struct Shape {
  const char* name;
  std::vector<Dot> context;
  std::vector<VersionView> siblings;
};

const std::string kBinary = "\0\r\n\xff value"s;
const std::string kLarge(70000, 'L');

std::vector<Shape> Shapes() {
  constexpr uint64_t kNodeMax = std::numeric_limits<uint64_t>::max();
  return {
      {"empty", {}, {}},
      {"one version", {{7, 1}}, {Version(7, 1, 1700000000000, "hello")}},
      {"siblings",
       {{1, 5}, {2, 3}, {kNodeMax, 1}},
       {Version(1, 5, 100, "a"), Version(2, 3, 100, "bb", 5000),
        Version(kNodeMax, 1, 99, kBinary)}},
      {"tombstone", {{3, 9}}, {Version(3, 9, 42, "", 0, true)}},
      {"tombstone beside a value",
       {{3, 9}, {4, 1}},
       {Version(3, 9, 42, "", 0, true), Version(4, 1, 41, "live", 123456789)}},
      {"expiring binary value", {{9, 300}}, {Version(9, 300, 5, kBinary, 1700000123456)}},
      {"empty value", {{1, 1}}, {Version(1, 1, 0, "")}},
      {"large value", {{2, 128}}, {Version(2, 128, 1, kLarge)}},
      {"counters and times at the limits",
       {{0, 0}, {1, std::numeric_limits<uint64_t>::max()}},
       {Version(0, std::numeric_limits<uint64_t>::max(), std::numeric_limits<int64_t>::max(), "x",
                std::numeric_limits<int64_t>::max())}},
      {"context without siblings", {{1, 1}, {2, 2}}, {}},
  };
}

TEST_CASE("EncodeRecord then DecodeRecord returns the same context and siblings") {
  for (const Shape& shape : Shapes()) {
    CAPTURE(shape.name);
    std::string enc;
    EncodeRecord(shape.context, shape.siblings, &enc);
    CHECK(static_cast<uint8_t>(enc[0]) == kRecordFormatV1);
    RecordView got;
    util::Status s = DecodeRecord(enc, &got);
    REQUIRE(s.ok());
    CheckSame(got, shape.context, shape.siblings);
  }
}

TEST_CASE("EncodeRecord appends to what is already in the buffer") {
  std::string enc = "prefix";
  EncodeRecord({{1, 1}}, {Version(1, 1, 1, "v")}, &enc);
  CHECK(enc.compare(0, 6, "prefix") == 0);
  RecordView got;
  REQUIRE(DecodeRecord(std::string_view(enc).substr(6), &got).ok());
  REQUIRE(got.siblings.size() == 1);
  CHECK(got.siblings[0].value == "v");
}

TEST_CASE("EncodeSingleVersion is byte-identical to EncodeRecord with one sibling") {
  std::vector<std::pair<std::vector<Dot>, VersionView>> cases = {
      {{{7, 1}}, Version(7, 1, 1700000000000, "hello")},
      {{{1, 4}, {7, 2}}, Version(7, 2, 12, kBinary, 99)},
      {{}, Version(0, 0, 0, "")},
  };
  for (const auto& [context, version] : cases) {
    std::string a, b;
    EncodeSingleVersion(context, version, &a);
    EncodeRecord(context, {version}, &b);
    CHECK(test::Escape(a) == test::Escape(b));
    RecordView got;
    REQUIRE(DecodeRecord(a, &got).ok());
    CheckSame(got, context, {version});
  }
}

TEST_CASE("decoded values point into the encoded bytes") {
  std::string enc;
  EncodeSingleVersion({{1, 1}}, Version(1, 1, 1, "payload"), &enc);
  RecordView got;
  REQUIRE(DecodeRecord(enc, &got).ok());
  REQUIRE(got.siblings.size() == 1);
  CHECK(got.siblings[0].value.data() >= enc.data());
  CHECK(got.siblings[0].value.data() + 7 <= enc.data() + enc.size());
}

TEST_CASE("DecodeRecord reuses the output and clears what it held") {
  std::string big, small;
  EncodeRecord({{1, 1}, {2, 2}}, {Version(1, 1, 1, "a"), Version(2, 2, 2, "b")}, &big);
  EncodeRecord({}, {}, &small);
  RecordView got;
  REQUIRE(DecodeRecord(big, &got).ok());
  REQUIRE(DecodeRecord(small, &got).ok());
  CHECK(got.context.empty());
  CHECK(got.siblings.empty());
  REQUIRE(DecodeRecord(big, &got).ok());
  CHECK(DecodeRecord("", &got).IsCorruption());
  CHECK(got.context.empty());
  CHECK(got.siblings.empty());
}

TEST_CASE("Winner is the highest timestamp, then the highest node, then the larger value") {
  RecordView r;
  CHECK(r.Winner() == nullptr);
  CHECK(RecordExpireAt(r) == 0);

  r.siblings = {Version(1, 1, 100, "a"), Version(2, 1, 200, "b", 777), Version(3, 1, 150, "c")};
  REQUIRE(r.Winner() != nullptr);
  CHECK(r.Winner()->dot.node == 2);
  CHECK(RecordExpireAt(r) == 777);

  // Same timestamp: the higher node wins, in any order.
  r.siblings = {Version(5, 1, 100, "a"), Version(9, 1, 100, "b"), Version(7, 1, 100, "c")};
  CHECK(r.Winner()->dot.node == 9);
  r.siblings = {Version(9, 1, 100, "b"), Version(5, 1, 100, "a")};
  CHECK(r.Winner()->dot.node == 9);

  // Same timestamp and node: the larger value (bytewise) wins.
  r.siblings = {Version(4, 1, 100, "abc"), Version(4, 2, 100, "abd"), Version(4, 3, 100, "ab")};
  CHECK(r.Winner()->value == "abd");
  r.siblings = {Version(4, 2, 100, "\xff"), Version(4, 1, 100, "\x7f")};
  CHECK(r.Winner()->value == "\xff");

  // A tombstone can win, and then the record has no expiry.
  r.siblings = {Version(1, 1, 100, "live", 55), Version(2, 1, 300, "", 0, true)};
  CHECK(r.Winner()->tombstone);
  CHECK(RecordExpireAt(r) == 0);
}

TEST_CASE("Winner does not depend on sibling order") {
  uint64_t seed = test::TestSeed(20240601);
  util::Random rnd(seed);
  const std::string values[] = {"", "a", "b", "ab", "\xff"};
  for (int round = 0; round < 500; round++) {
    std::vector<VersionView> sib;
    size_t n = 1 + rnd.Uniform(6);
    for (size_t i = 0; i < n; i++) {
      sib.push_back(
          Version(rnd.Uniform(3), i, static_cast<int64_t>(rnd.Uniform(3)), values[rnd.Uniform(5)]));
    }
    RecordView a;
    a.siblings = sib;
    const VersionView* wa = a.Winner();
    RecordView b;
    b.siblings.assign(sib.rbegin(), sib.rend());
    const VersionView* wb = b.Winner();
    REQUIRE(wa != nullptr);
    REQUIRE(wb != nullptr);
    CHECK(wa->timestamp_ms == wb->timestamp_ms);
    CHECK(wa->dot.node == wb->dot.node);
    CHECK(wa->value == wb->value);
    for (const VersionView& v : sib) {
      CHECK(v.timestamp_ms <= wa->timestamp_ms);
    }
  }
}

TEST_CASE("ExpiredAt: 0 never expires; otherwise expired at and after expire_at_ms") {
  VersionView v = Version(1, 1, 1, "x");
  CHECK_FALSE(v.ExpiredAt(std::numeric_limits<int64_t>::max()));
  v.expire_at_ms = 1000;
  CHECK_FALSE(v.ExpiredAt(999));
  CHECK(v.ExpiredAt(1000));
  CHECK(v.ExpiredAt(1001));
}

// Decodes an exact-size heap copy so ASan catches any over-read.
util::Status DecodeCopy(std::string_view bytes, RecordView* out) {
  auto p = std::make_unique<char[]>(bytes.empty() ? 1 : bytes.size());
  if (!bytes.empty()) memcpy(p.get(), bytes.data(), bytes.size());
  return DecodeRecord(std::string_view(p.get(), bytes.size()), out);
}

TEST_CASE("every truncation of a valid record is Corruption") {
  for (const Shape& shape : Shapes()) {
    CAPTURE(shape.name);
    std::string enc;
    EncodeRecord(shape.context, shape.siblings, &enc);
    // The large value's body adds nothing new per byte; sample it.
    size_t step = enc.size() > 1000 ? 97 : 1;
    for (size_t cut = 0; cut < enc.size(); cut += step) {
      CAPTURE(cut);
      RecordView got;
      CHECK(DecodeCopy(std::string_view(enc).substr(0, cut), &got).IsCorruption());
    }
    RecordView got;
    CHECK(DecodeCopy(std::string_view(enc).substr(0, enc.size() - 1), &got).IsCorruption());
  }
}

TEST_CASE("an unknown format byte is Corruption") {
  std::string enc;
  EncodeSingleVersion({{1, 1}}, Version(1, 1, 1, "v"), &enc);
  for (int b : {0, 2, 0x81, 0xff}) {
    CAPTURE(b);
    std::string bad = enc;
    bad[0] = static_cast<char>(b);
    RecordView got;
    CHECK(DecodeCopy(bad, &got).IsCorruption());
  }
}

TEST_CASE("trailing bytes after a valid record are Corruption") {
  for (const Shape& shape : Shapes()) {
    CAPTURE(shape.name);
    std::string enc;
    EncodeRecord(shape.context, shape.siblings, &enc);
    for (std::string tail : {"\0"s, "x"s, "\x01\x02\x03"s}) {
      RecordView got;
      CHECK(DecodeCopy(enc + tail, &got).IsCorruption());
    }
  }
}

TEST_CASE("a sibling flag other than 0 or 1 is Corruption") {
  std::string enc;
  EncodeSingleVersion({}, Version(1, 1, 1, "v"), &enc);
  // Layout: format, context count 0, sibling count 1, node (8), counter,
  // timestamp, expiry, flags, length, value.
  size_t flags_at = 1 + 1 + 1 + 8 + 1 + 1 + 1;
  REQUIRE(enc[flags_at] == 0);
  for (int b : {2, 0x80, 0xff}) {
    std::string bad = enc;
    bad[flags_at] = static_cast<char>(b);
    RecordView got;
    CHECK(DecodeCopy(bad, &got).IsCorruption());
  }
}

TEST_CASE("huge declared counts and lengths are Corruption, not allocations") {
  std::string enc(1, static_cast<char>(kRecordFormatV1));
  // Context count near 2^64.
  std::string bad = enc + "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"s;
  RecordView got;
  CHECK(DecodeCopy(bad, &got).IsCorruption());
  // No context, sibling count near 2^64.
  bad = enc + "\x00"s + "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"s;
  CHECK(DecodeCopy(bad, &got).IsCorruption());
  // One sibling whose value length is past the end.
  std::string one;
  EncodeSingleVersion({}, Version(1, 1, 1, "v"), &one);
  size_t len_at = one.size() - 2;
  REQUIRE(one[len_at] == 1);
  one[len_at] = 0x7f;
  CHECK(DecodeCopy(one, &got).IsCorruption());
}

TEST_CASE("random byte flips never crash the decoder") {
  uint64_t seed = test::TestSeed(0x5EC0D3);
  util::Random rnd(seed);
  std::vector<Shape> shapes = Shapes();
  for (int round = 0; round < 20000; round++) {
    const Shape& shape = shapes[rnd.Uniform(shapes.size())];
    if (shape.siblings.size() == 1 && shape.siblings[0].value.size() > 1000) continue;
    std::string enc;
    EncodeRecord(shape.context, shape.siblings, &enc);
    int flips = 1 + static_cast<int>(rnd.Uniform(3));
    for (int i = 0; i < flips; i++) {
      enc[rnd.Uniform(enc.size())] ^= static_cast<char>(1 + rnd.Uniform(255));
    }
    RecordView got;
    util::Status s = DecodeCopy(enc, &got);
    CHECK((s.ok() || s.IsCorruption()));
    if (s.ok()) {
      // Whatever decoded lies inside the input.
      for (const VersionView& v : got.siblings) CHECK(v.value.size() <= enc.size());
    }
  }
}

}  // namespace
}  // namespace kv::storage
