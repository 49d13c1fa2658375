// Number <-> text conversions with Redis's acceptance rules (string2ll,
// string2ld, memtoll) and output formats.
#include "util/strings.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

namespace kv::util {
namespace {

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

TEST_CASE("ParseInt64 accepts canonical base-10 integers") {
  struct Case {
    const char* text;
    int64_t value;
  };
  for (Case c :
       {Case{"0", 0}, Case{"1", 1}, Case{"-1", -1}, Case{"42", 42}, Case{"123456789", 123456789},
        Case{"1234567890", 1234567890}, Case{"-1234567890", -1234567890},
        Case{"9223372036854775807", kMax}, Case{"-9223372036854775808", kMin}}) {
    CAPTURE(c.text);
    int64_t v = 7;
    REQUIRE(ParseInt64(c.text, &v));
    CHECK(v == c.value);
  }
}

TEST_CASE("ParseInt64 rejects blanks, signs, leading zeros, junk and overflow") {
  using namespace std::string_literals;
  for (std::string text : {""s,
                           " 1"s,
                           "1 "s,
                           "+1"s,
                           "01"s,
                           "00"s,
                           "-0"s,
                           "-01"s,
                           "-"s,
                           "--1"s,
                           "1a"s,
                           "a1"s,
                           "1.0"s,
                           "1e3"s,
                           "0x10"s,
                           "9223372036854775808"s,
                           "-9223372036854775809"s,
                           "18446744073709551616"s,
                           "99999999999999999999"s,
                           "100000000000000000000"s,
                           "1\0"s,
                           "\0"s}) {
    CAPTURE(text);
    int64_t v = 7;
    CHECK_FALSE(ParseInt64(text, &v));
    CHECK(v == 7);
  }
}

TEST_CASE("ParseUint64 accepts the full unsigned range and no sign") {
  uint64_t v = 0;
  REQUIRE(ParseUint64("0", &v));
  CHECK(v == 0);
  REQUIRE(ParseUint64("18446744073709551615", &v));
  CHECK(v == std::numeric_limits<uint64_t>::max());
  REQUIRE(ParseUint64("9223372036854775808", &v));
  CHECK(v == 9223372036854775808ULL);
  for (const char* text : {"", "-1", "+1", "01", " 1", "1 ", "18446744073709551616",
                           "99999999999999999999", "184467440737095516150", "1x"}) {
    CAPTURE(text);
    uint64_t w = 7;
    CHECK_FALSE(ParseUint64(text, &w));
    CHECK(w == 7);
  }
}

TEST_CASE("ParseLongDouble accepts decimals, exponents and infinities") {
  struct Case {
    const char* text;
    long double value;
  };
  for (Case c : {Case{"0", 0.0L}, Case{"1e3", 1000.0L}, Case{"-1.5", -1.5L}, Case{"10.5", 10.5L},
                 Case{".5", 0.5L}, Case{"5.", 5.0L}, Case{"+2", 2.0L}, Case{"1E-2", 0.01L}}) {
    CAPTURE(c.text);
    long double v = 7;
    REQUIRE(ParseLongDouble(c.text, &v));
    CHECK(v == c.value);
  }
  long double v = 0;
  REQUIRE(ParseLongDouble("inf", &v));
  CHECK((std::isinf(v) && v > 0));
  REQUIRE(ParseLongDouble("-inf", &v));
  CHECK((std::isinf(v) && v < 0));
  REQUIRE(ParseLongDouble("+inf", &v));
  CHECK((std::isinf(v) && v > 0));
}

TEST_CASE("ParseLongDouble rejects nan, blanks, junk and overflow") {
  using namespace std::string_literals;
  for (std::string text : {""s, "nan"s, "NaN"s, "-nan"s, " 1"s, "1 "s, "\t1"s, "1x"s, "abc"s, "1e"s,
                           "--1"s, "1\0"s, "1e99999"s, std::string(6000, '1')}) {
    CAPTURE(text.substr(0, 20));
    long double v = 7;
    CHECK_FALSE(ParseLongDouble(text, &v));
    CHECK(v == 7);
  }
}

TEST_CASE("ParseDouble accepts decimals, exponents and infinities") {
  double v = 0;
  REQUIRE(ParseDouble("1e3", &v));
  CHECK(v == 1000.0);
  REQUIRE(ParseDouble("-1.5", &v));
  CHECK(v == -1.5);
  REQUIRE(ParseDouble("0", &v));
  CHECK(v == 0.0);
  REQUIRE(ParseDouble("inf", &v));
  CHECK((std::isinf(v) && v > 0));
  REQUIRE(ParseDouble("-inf", &v));
  CHECK((std::isinf(v) && v < 0));
}

TEST_CASE("ParseDouble rejects nan, blanks, junk and overflow like Redis's ZADD") {
  using namespace std::string_literals;
  // Redis: ZADD z 1e400 m -> "ERR value is not a valid float".
  for (std::string text : {""s, "nan"s, "NAN"s, " 1"s, "1 "s, "\n1"s, "1x"s, "x"s, "1\0"s, "1e400"s,
                           "-1e400"s, std::string(6000, '1')}) {
    CAPTURE(text.substr(0, 20));
    double v = 7;
    CHECK_FALSE(ParseDouble(text, &v));
    CHECK(v == 7);
  }
}

TEST_CASE("FormatInt64 and Int64ToString write plain base 10") {
  char buf[24];
  CHECK(std::string(buf, FormatInt64(0, buf)) == "0");
  CHECK(std::string(buf, FormatInt64(-1, buf)) == "-1");
  CHECK(std::string(buf, FormatInt64(kMin, buf)) == "-9223372036854775808");
  CHECK(std::string(buf, FormatInt64(kMax, buf)) == "9223372036854775807");
  CHECK(std::string(buf, FormatUint64(std::numeric_limits<uint64_t>::max(), buf)) ==
        "18446744073709551615");
  CHECK(Int64ToString(1000) == "1000");
  CHECK(Int64ToString(kMin) == "-9223372036854775808");
}

TEST_CASE("Int64ToString and ParseInt64 round trip") {
  for (int64_t v :
       {kMin, kMin + 1, int64_t{-1000000007}, int64_t{-10}, int64_t{-9}, int64_t{-1}, int64_t{0},
        int64_t{1}, int64_t{9}, int64_t{10}, int64_t{99}, int64_t{100}, kMax - 1, kMax}) {
    CAPTURE(v);
    int64_t back = 0;
    REQUIRE(ParseInt64(Int64ToString(v), &back));
    CHECK(back == v);
  }
}

TEST_CASE("LongDoubleToString prints INCRBYFLOAT's humanised form") {
  CHECK(LongDoubleToString(10.5L) == "10.5");
  CHECK(LongDoubleToString(3.0L) == "3");
  CHECK(LongDoubleToString(0.0L) == "0");
  CHECK(LongDoubleToString(-0.0L) == "0");
  CHECK(LongDoubleToString(-1.5L) == "-1.5");
  CHECK(LongDoubleToString(100.0L) == "100");
  CHECK(LongDoubleToString(0.1L + 0.2L) == "0.3");
  CHECK(LongDoubleToString(5.0e3L) == "5000");
  CHECK(LongDoubleToString(std::numeric_limits<long double>::infinity()) == "inf");
  CHECK(LongDoubleToString(-std::numeric_limits<long double>::infinity()) == "-inf");
  // The largest long double still fits the buffer.
  std::string max = LongDoubleToString(std::numeric_limits<long double>::max());
  CHECK(max.size() > 4900);
  CHECK(max.find_first_not_of("0123456789") == std::string::npos);
}

TEST_CASE("DoubleToString prints %.17g and inf") {
  CHECK(DoubleToString(1.5) == "1.5");
  CHECK(DoubleToString(0) == "0");
  CHECK(DoubleToString(-2.25) == "-2.25");
  CHECK(DoubleToString(1e20) == "1e+20");
  CHECK(DoubleToString(std::numeric_limits<double>::infinity()) == "inf");
  CHECK(DoubleToString(-std::numeric_limits<double>::infinity()) == "-inf");
  double back = 0;
  REQUIRE(ParseDouble(DoubleToString(0.1), &back));
  CHECK(back == 0.1);
}

TEST_CASE("EqualsIgnoreCase and ToLowerAscii fold ASCII only") {
  CHECK(EqualsIgnoreCase("GET", "get"));
  CHECK(EqualsIgnoreCase("", ""));
  CHECK(EqualsIgnoreCase("MaxMemory", "maxmemory"));
  CHECK_FALSE(EqualsIgnoreCase("get", "gets"));
  CHECK_FALSE(EqualsIgnoreCase("get", "got"));
  CHECK_FALSE(EqualsIgnoreCase("\xc3\xa9", "\xc3\x89"));
  std::string s = "HeLLo-123\xc3\x89";
  ToLowerAscii(&s);
  CHECK(s == "hello-123\xc3\x89");
}

TEST_CASE("ParseMemory reads redis.conf sizes: k/m/g are powers of 1000, kb/mb/gb of 1024") {
  struct Case {
    const char* text;
    int64_t value;
  };
  for (Case c :
       {Case{"0", 0}, Case{"1024", 1024}, Case{"1b", 1}, Case{"100k", 100000}, Case{"1kb", 1024},
        Case{"2m", 2000000}, Case{"64mb", 64LL * 1024 * 1024}, Case{"1g", 1000000000},
        Case{"1gb", 1073741824}, Case{"1GB", 1073741824}, Case{"3Mb", 3LL * 1024 * 1024}}) {
    CAPTURE(c.text);
    int64_t v = 7;
    REQUIRE(ParseMemory(c.text, &v));
    CHECK(v == c.value);
  }
}

TEST_CASE("ParseMemory rejects junk, unknown units and overflow") {
  for (const char* text : {"", "gb", "1tb", "1 gb", " 1", "1gbx", "1.5gb", "abc", "-",
                           "9223372036854775807k", "9999999999gb"}) {
    CAPTURE(text);
    int64_t v = 7;
    CHECK_FALSE(ParseMemory(text, &v));
    CHECK(v == 7);
  }
}

}  // namespace
}  // namespace kv::util
