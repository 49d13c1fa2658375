// GlobMatch: Redis's stringmatchlen semantics for KEYS, SCAN MATCH and
// CONFIG GET patterns. Cases marked "redis" were checked against
// redis-server 7.0 with KEYS.
#include "util/glob.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

namespace kv::util {
namespace {

TEST_CASE("a pattern without metacharacters matches only the same text") {
  CHECK(GlobMatch("foo", "foo"));
  CHECK_FALSE(GlobMatch("foo", "fo"));
  CHECK_FALSE(GlobMatch("foo", "fooo"));
  CHECK_FALSE(GlobMatch("foo", "Foo"));
  CHECK(GlobMatch("", ""));
  CHECK_FALSE(GlobMatch("", "a"));
  CHECK_FALSE(GlobMatch("a", ""));
}

TEST_CASE("* matches any run of bytes, including none") {
  CHECK(GlobMatch("*", ""));
  CHECK(GlobMatch("*", "anything"));
  CHECK(GlobMatch("user:*", "user:"));
  CHECK(GlobMatch("user:*", "user:1000"));
  CHECK_FALSE(GlobMatch("user:*", "user"));
  CHECK(GlobMatch("*:name", "user:1:name"));
  CHECK_FALSE(GlobMatch("*:name", "user:1:names"));
  CHECK(GlobMatch("h*llo", "hllo"));
  CHECK(GlobMatch("h*llo", "heeeello"));
  CHECK(GlobMatch("a*b*c", "aXXbYYc"));
  CHECK(GlobMatch("a*b*c", "abc"));
  CHECK_FALSE(GlobMatch("a*b*c", "acb"));
  CHECK(GlobMatch("a**b", "aXb"));
  CHECK(GlobMatch("a*", "a"));
  CHECK(GlobMatch("a***", "a"));
  CHECK(GlobMatch("*a*", "bab"));
  CHECK_FALSE(GlobMatch("*a*", "bbb"));
}

TEST_CASE("? matches exactly one byte") {
  CHECK(GlobMatch("h?llo", "hello"));
  CHECK(GlobMatch("h?llo", "hallo"));
  CHECK_FALSE(GlobMatch("h?llo", "hllo"));
  CHECK_FALSE(GlobMatch("h?llo", "heello"));
  CHECK(GlobMatch("??", "ab"));
  CHECK_FALSE(GlobMatch("?", ""));
  CHECK_FALSE(GlobMatch("*?", ""));  // redis
  CHECK(GlobMatch("*?", "a"));
}

TEST_CASE("[abc] matches one listed byte, [^a] any other, [a-z] a range") {
  CHECK(GlobMatch("h[ae]llo", "hello"));
  CHECK(GlobMatch("h[ae]llo", "hallo"));
  CHECK_FALSE(GlobMatch("h[ae]llo", "hillo"));
  CHECK_FALSE(GlobMatch("h[ae]llo", "hllo"));
  CHECK(GlobMatch("h[^e]llo", "hallo"));
  CHECK_FALSE(GlobMatch("h[^e]llo", "hello"));
  CHECK_FALSE(GlobMatch("[^a]b", "ab"));  // redis
  CHECK(GlobMatch("h[a-b]llo", "hallo"));
  CHECK(GlobMatch("h[a-b]llo", "hbllo"));
  CHECK_FALSE(GlobMatch("h[a-b]llo", "hcllo"));
  CHECK(GlobMatch("[0-9][0-9]", "42"));
  CHECK_FALSE(GlobMatch("[0-9]", "a"));
  // A reversed range is the same range.
  CHECK(GlobMatch("[z-a]", "m"));
  CHECK(GlobMatch("[^0-9]x", "ax"));
  CHECK_FALSE(GlobMatch("[^0-9]x", "5x"));
  // Ranges and single bytes mix.
  CHECK(GlobMatch("[a-cx]", "x"));
  CHECK(GlobMatch("[a-cx]", "b"));
  CHECK_FALSE(GlobMatch("[a-cx]", "d"));
}

TEST_CASE("an unterminated class runs to the end of the pattern") {
  CHECK(GlobMatch("a[b", "ab"));  // redis
  CHECK(GlobMatch("a[bc", "ac"));
  CHECK_FALSE(GlobMatch("a[b", "abc"));
  // An empty class matches nothing.
  CHECK_FALSE(GlobMatch("a[]", "a"));
  CHECK_FALSE(GlobMatch("a[]", "ab"));  // redis
}

TEST_CASE("a backslash escapes the next pattern byte") {
  CHECK(GlobMatch("\\*", "*"));
  CHECK_FALSE(GlobMatch("\\*", "a"));
  CHECK(GlobMatch("a\\?b", "a?b"));
  CHECK_FALSE(GlobMatch("a\\?b", "axb"));
  CHECK(GlobMatch("\\[a]", "[a]"));
  CHECK(GlobMatch("\\\\", "\\"));
  CHECK(GlobMatch("[\\]]", "]"));
  CHECK(GlobMatch("[\\^a]", "^"));
  CHECK(GlobMatch("[\\-]", "-"));
  CHECK_FALSE(GlobMatch("[\\-]", "a"));
  // A trailing backslash matches itself.
  CHECK(GlobMatch("a\\", "a\\"));
  CHECK_FALSE(GlobMatch("a\\", "a"));
}

TEST_CASE("nocase folds ASCII case in literals, classes and ranges") {
  CHECK(GlobMatch("HeLLo", "hello", true));
  CHECK_FALSE(GlobMatch("HeLLo", "hello", false));
  CHECK(GlobMatch("h[AE]llo", "hello", true));
  CHECK(GlobMatch("h[A-F]llo", "hello", true));
  CHECK(GlobMatch("maxmemory*", "MAXMEMORY-POLICY", true));
  CHECK_FALSE(GlobMatch("maxmemory*", "MAXMEMORY-POLICY", false));
}

TEST_CASE("patterns and text are binary safe") {
  using namespace std::string_literals;
  CHECK(GlobMatch("a\0b"s, "a\0b"s));
  CHECK_FALSE(GlobMatch("a\0b"s, "a\0c"s));
  CHECK_FALSE(GlobMatch("a"s, "a\0"s));
  CHECK(GlobMatch("a?c"s, "a\0c"s));
  CHECK(GlobMatch("*\xff"s, "\x01\x02\xff"s));
  CHECK(GlobMatch("[\x80-\xff]"s, "\xc3"s));
  CHECK_FALSE(GlobMatch("[\x80-\xff]"s, "a"s));
  CHECK(GlobMatch("*\r\n*"s, "line\r\nnext"s));
}

TEST_CASE("a pathological pattern against a long run finishes fast") {
  std::string text(10000, 'a');
  auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(GlobMatch("a*a*a*a*a*a*a*a*a*a*b", text));
  CHECK_FALSE(GlobMatch("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", text));
  CHECK(GlobMatch("a*a*a*a*a*a*a*a*a*a*", text));
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed < std::chrono::seconds(1));
}

TEST_CASE("a pattern with thousands of stars does not overflow the stack") {
  std::string pattern;
  for (int i = 0; i < 5000; i++) pattern += "a*";
  pattern += "b";
  std::string text(6000, 'a');
  CHECK_FALSE(GlobMatch(pattern, text));
}

}  // namespace
}  // namespace kv::util
