// SplitArgs: sdssplitargs' tokenizing, quoting and escapes, as used by the
// config file and inline commands.
#include "util/split_args.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "../test_util.h"

namespace kv::util {
namespace {

using test::Show;
using Args = std::vector<std::string>;

// The arguments of `line`, or "<error>" if SplitArgs rejects it.
std::string Split(std::string_view line) {
  std::vector<std::string> out = {"stale"};
  if (!SplitArgs(line, &out)) return "<error>";
  return Show(out);
}

TEST_CASE("whitespace separates arguments and surrounding blanks are ignored") {
  CHECK(Split("") == Show(Args{}));
  CHECK(Split("   \t\r\n") == Show(Args{}));
  CHECK(Split("GET k") == Show(Args{"GET", "k"}));
  CHECK(Split("  SET   k\tv  ") == Show(Args{"SET", "k", "v"}));
  CHECK(Split("maxmemory 100mb\r\n") == Show(Args{"maxmemory", "100mb"}));
}

TEST_CASE("double quotes group words and understand C escapes") {
  CHECK(Split("SET k \"a b\"") == Show(Args{"SET", "k", "a b"}));
  CHECK(Split("\"\"") == Show(Args{""}));
  CHECK(Split("\"a\\nb\\rc\\td\\be\\af\"") == Show(Args{"a\nb\rc\td\be\af"}));
  CHECK(Split("\"q\\\"q\"") == Show(Args{"q\"q"}));
  CHECK(Split("\"back\\\\slash\"") == Show(Args{"back\\slash"}));
  // Unknown escapes keep the escaped byte.
  CHECK(Split("\"\\z\"") == Show(Args{"z"}));
  // Single quotes inside double quotes are plain bytes.
  CHECK(Split("\"it's\"") == Show(Args{"it's"}));
}

TEST_CASE("\\xHH inside double quotes is one byte; a malformed one is literal") {
  using namespace std::string_literals;
  CHECK(Split("\"\\x41\"") == Show(Args{"A"}));
  CHECK(Split("\"\\x41\\x42C\"") == Show(Args{"ABC"}));
  CHECK(Split("\"\\x00\\xff\\xFf\"") == Show(Args{"\0\xff\xff"s}));
  CHECK(Split("\"\\x4\"") == Show(Args{"x4"}));
  CHECK(Split("\"\\xZZ\"") == Show(Args{"xZZ"}));
}

TEST_CASE("single quotes are literal except for an escaped single quote") {
  CHECK(Split("'a b'") == Show(Args{"a b"}));
  CHECK(Split("'it\\'s'") == Show(Args{"it's"}));
  CHECK(Split("'a\\nb'") == Show(Args{"a\\nb"}));
  CHECK(Split("'say \"hi\"'") == Show(Args{"say \"hi\""}));
  CHECK(Split("''") == Show(Args{""}));
}

TEST_CASE("a quote opening mid-word continues the same argument") {
  CHECK(Split("ab\"c d\"") == Show(Args{"abc d"}));
  CHECK(Split("x'y z' w") == Show(Args{"xy z", "w"}));
}

TEST_CASE("unbalanced quotes are rejected") {
  CHECK(Split("\"abc") == "<error>");
  CHECK(Split("'abc") == "<error>");
  CHECK(Split("SET k \"a b") == "<error>");
  CHECK(Split("\"abc\\\"") == "<error>");
  CHECK(Split("\"abc\\") == "<error>");
  CHECK(Split("'abc\\'") == "<error>");
  CHECK(Split("\"") == "<error>");
}

TEST_CASE("a closing quote must be followed by whitespace or the end") {
  CHECK(Split("\"a\"b") == "<error>");
  CHECK(Split("'a'b") == "<error>");
  CHECK(Split("\"a\"\"b\"") == "<error>");
  CHECK(Split("\"a\" b") == Show(Args{"a", "b"}));
  CHECK(Split("\"a\"\tb") == Show(Args{"a", "b"}));
  CHECK(Split("'a'\n") == Show(Args{"a"}));
}

TEST_CASE("the output vector is replaced, not appended to") {
  std::vector<std::string> out = {"old", "values"};
  REQUIRE(SplitArgs("one two", &out));
  CHECK(Show(out) == Show(Args{"one", "two"}));
  REQUIRE(SplitArgs("", &out));
  CHECK(out.empty());
}

}  // namespace
}  // namespace kv::util
