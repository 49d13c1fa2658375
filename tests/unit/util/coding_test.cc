// Fixed64 and varint encodings: exact bytes, round trips at the boundaries,
// and truncated input rejected without reading past the end.
#include "util/coding.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "../test_util.h"
#include "util/random.h"

namespace kv::util {
namespace {

using test::Escape;

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();

std::vector<uint64_t> Boundaries() {
  std::vector<uint64_t> v = {0, 1, 127, 128, 255, 256, 16383, 16384, kU64Max, kU64Max - 1};
  for (int shift = 7; shift < 64; shift += 7) {
    uint64_t p = uint64_t{1} << shift;
    v.push_back(p - 1);
    v.push_back(p);
  }
  v.push_back(uint64_t{1} << 63);
  v.push_back((uint64_t{1} << 63) - 1);
  return v;
}

size_t VarintLength(uint64_t v) {
  size_t n = 1;
  while (v >= 128) {
    v >>= 7;
    n++;
  }
  return n;
}

// A heap copy of exactly the bytes of s, so ASan sees any over-read.
std::unique_ptr<char[]> Copy(std::string_view s) {
  auto p = std::make_unique<char[]>(s.empty() ? 1 : s.size());
  if (!s.empty()) memcpy(p.get(), s.data(), s.size());
  return p;
}

TEST_CASE("PutFixed64 writes 8 little-endian bytes") {
  std::string s;
  PutFixed64(&s, 0x0102030405060708ULL);
  CHECK(Escape(s) == Escape("\x08\x07\x06\x05\x04\x03\x02\x01"));
}

TEST_CASE("PutVarint64 writes LEB128") {
  using namespace std::string_literals;
  auto enc = [](uint64_t v) {
    std::string s;
    PutVarint64(&s, v);
    return Escape(s);
  };
  CHECK(enc(0) == Escape("\x00"s));
  CHECK(enc(127) == Escape("\x7f"));
  CHECK(enc(128) == Escape("\x80\x01"));
  CHECK(enc(300) == Escape("\xac\x02"));
  CHECK(enc(uint64_t{1} << 63) == Escape("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01"));
  CHECK(enc(kU64Max) == Escape("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"));
}

TEST_CASE("fixed64 and varint64 round trip at the boundaries") {
  for (uint64_t v : Boundaries()) {
    CAPTURE(v);
    std::string s;
    PutFixed64(&s, v);
    PutVarint64(&s, v);
    CHECK(s.size() == 8 + VarintLength(v));
    std::string_view in = s;
    uint64_t a = 0, b = 0;
    REQUIRE(GetFixed64(&in, &a));
    REQUIRE(GetVarint64(&in, &b));
    CHECK(a == v);
    CHECK(b == v);
    CHECK(in.empty());
  }
}

TEST_CASE("a sequence of mixed values decodes in order") {
  uint64_t seed = test::TestSeed(0xC0D1C6);
  Random rnd(seed);
  std::vector<uint64_t> values;
  std::string s;
  for (int i = 0; i < 10000; i++) {
    uint64_t v = rnd.Next() >> rnd.Uniform(64);
    values.push_back(v);
    if (i % 2 == 0) {
      PutVarint64(&s, v);
    } else {
      PutFixed64(&s, v);
    }
  }
  std::string_view in = s;
  for (size_t i = 0; i < values.size(); i++) {
    uint64_t v = 0;
    REQUIRE((i % 2 == 0 ? GetVarint64(&in, &v) : GetFixed64(&in, &v)));
    CHECK(v == values[i]);
  }
  CHECK(in.empty());
}

TEST_CASE("truncated fixed64 and varint64 return false and leave the input alone") {
  for (uint64_t v : Boundaries()) {
    CAPTURE(v);
    std::string f, var;
    PutFixed64(&f, v);
    PutVarint64(&var, v);
    for (size_t cut = 0; cut < f.size(); cut++) {
      auto copy = Copy(f);
      std::string_view in(copy.get(), cut);
      uint64_t out = 7;
      CHECK_FALSE(GetFixed64(&in, &out));
      CHECK(in.size() == cut);
      CHECK(out == 7);
    }
    for (size_t cut = 0; cut < var.size(); cut++) {
      auto copy = Copy(var);
      std::string_view in(copy.get(), cut);
      uint64_t out = 7;
      CHECK_FALSE(GetVarint64(&in, &out));
      CHECK(in.size() == cut);
      CHECK(out == 7);
    }
  }
}

TEST_CASE("a varint longer than 10 bytes is rejected") {
  std::string s(11, '\x80');
  s.back() = '\x01';
  std::string_view in = s;
  uint64_t v = 7;
  CHECK_FALSE(GetVarint64(&in, &v));
  CHECK(in.size() == 11);
  std::string endless(64, '\xff');
  in = endless;
  CHECK_FALSE(GetVarint64(&in, &v));
}

TEST_CASE("length-prefixed strings round trip and reject a length past the end") {
  using namespace std::string_literals;
  std::string s;
  PutLengthPrefixed(&s, "");
  PutLengthPrefixed(&s, "a\0b"s);
  PutLengthPrefixed(&s, std::string(300, 'z'));
  std::string_view in = s;
  std::string_view out;
  REQUIRE(GetLengthPrefixed(&in, &out));
  CHECK(out.empty());
  REQUIRE(GetLengthPrefixed(&in, &out));
  CHECK(out == "a\0b"s);
  REQUIRE(GetLengthPrefixed(&in, &out));
  CHECK(out == std::string(300, 'z'));
  CHECK(in.empty());

  std::string one;
  PutLengthPrefixed(&one, "hello");
  for (size_t cut = 0; cut < one.size(); cut++) {
    CAPTURE(cut);
    auto copy = Copy(one);
    std::string_view t(copy.get(), cut);
    CHECK_FALSE(GetLengthPrefixed(&t, &out));
  }
  // A length near 2^64 must not wrap around the bounds check.
  std::string huge;
  PutVarint64(&huge, kU64Max);
  huge += "abc";
  std::string_view h = huge;
  CHECK_FALSE(GetLengthPrefixed(&h, &out));
}

}  // namespace
}  // namespace kv::util
