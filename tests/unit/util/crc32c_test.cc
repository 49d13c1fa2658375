// CRC32C against the published check values (RFC 3720 appendix B.4 and the
// Rocksoft catalogue's "123456789"), incremental Extend, the mask round trip,
// and the hardware and software paths agreeing on every length and
// alignment.
#include "util/crc32c.h"

#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "../test_util.h"
#include "util/random.h"

// Defined in src/util/crc32c.cc with external linkage for this test only.
namespace kv::util::crc32c {
uint32_t ExtendSoftware(uint32_t init, const char* data, size_t n);
uint32_t ExtendHardware(uint32_t init, const char* data, size_t n);
bool HaveHardware();
}  // namespace kv::util::crc32c

namespace kv::util {
namespace {

TEST_CASE("crc32c matches the standard check values") {
  CHECK(crc32c::Value("123456789", 9) == 0xE3069283u);
  CHECK(crc32c::Value("", 0) == 0u);

  char buf[32];
  memset(buf, 0, sizeof(buf));
  CHECK(crc32c::Value(buf, sizeof(buf)) == 0x8A9136AAu);
  memset(buf, 0xff, sizeof(buf));
  CHECK(crc32c::Value(buf, sizeof(buf)) == 0x62A8AB43u);
  for (int i = 0; i < 32; i++) buf[i] = static_cast<char>(i);
  CHECK(crc32c::Value(buf, sizeof(buf)) == 0x46DD794Eu);
  for (int i = 0; i < 32; i++) buf[i] = static_cast<char>(31 - i);
  CHECK(crc32c::Value(buf, sizeof(buf)) == 0x113FDB5Cu);
}

TEST_CASE("crc32c Extend over pieces equals Value over the whole") {
  const std::string s = "hello world, this is a longer string to checksum in pieces";
  const uint32_t whole = crc32c::Value(s.data(), s.size());
  for (size_t split = 0; split <= s.size(); split++) {
    uint32_t a = crc32c::Value(s.data(), split);
    CHECK(crc32c::Extend(a, s.data() + split, s.size() - split) == whole);
  }
}

TEST_CASE("crc32c Mask changes the value and Unmask restores it") {
  const uint32_t crc = crc32c::Value("foo", 3);
  CHECK(crc32c::Mask(crc) != crc);
  CHECK(crc32c::Mask(crc32c::Mask(crc)) != crc);
  CHECK(crc32c::Unmask(crc32c::Mask(crc)) == crc);
  CHECK(crc32c::Unmask(crc32c::Unmask(crc32c::Mask(crc32c::Mask(crc)))) == crc);
}

TEST_CASE("crc32c hardware and software paths agree at every length and alignment") {
  MESSAGE("SSE4.2 crc32 instruction available: " << crc32c::HaveHardware());
  util::Random rnd(kv::test::TestSeed(42));
  std::string data(4096 + 16, '\0');
  for (char& c : data) c = static_cast<char>(rnd.Next());
  for (size_t align = 0; align < 8; align++) {
    for (size_t n = 0; n < 300; n++) {
      const char* p = data.data() + align;
      const uint32_t init = static_cast<uint32_t>(n * 2654435761u);
      uint32_t sw = crc32c::ExtendSoftware(init, p, n);
      uint32_t hw = crc32c::ExtendHardware(init, p, n);
      REQUIRE(sw == hw);
      REQUIRE(crc32c::Extend(init, p, n) == sw);
    }
  }
  CHECK(crc32c::ExtendSoftware(0, data.data(), 4096) ==
        crc32c::ExtendHardware(0, data.data(), 4096));
  CHECK(crc32c::ExtendSoftware(0, "123456789", 9) == 0xE3069283u);
}

}  // namespace
}  // namespace kv::util
