// RespParser: frames split at every byte, pipelining, empty commands, and
// every protocol error with Redis's exact text.
#include "resp/parser.h"

#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "../test_util.h"

namespace kv::resp {
namespace {

using test::Show;

// Encodes argv as a RESP multibulk request, the way clients send it.
std::string Multibulk(const std::vector<std::string>& argv) {
  std::string out = "*" + std::to_string(argv.size()) + "\r\n";
  for (const std::string& a : argv) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

struct Sample {
  const char* name;
  std::string frame;
  std::vector<std::string> argv;
};

std::vector<Sample> Samples() {
  using namespace std::string_literals;
  std::vector<Sample> s;
  s.push_back({"GET", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", {"GET", "k"}});
  s.push_back({"SET", "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", {"SET", "key", "value"}});
  std::string binary = "a\0b\r\nc\r"s;
  s.push_back({"binary value", Multibulk({"SET", "k", binary}), {"SET", "k", binary}});
  std::string crlf_only = "\r\n\r\n"s;
  s.push_back({"value of CRLFs", Multibulk({"SET", "k", crlf_only}), {"SET", "k", crlf_only}});
  s.push_back({"empty bulk", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", {"SET", "k", ""}});
  std::vector<std::string> mset = {"MSET"};
  for (int i = 0; i < 5; i++) {
    mset.push_back("key:" + std::to_string(i));
    mset.push_back("value-" + std::to_string(i * 1000));
  }
  s.push_back({"MSET with 10 arguments", Multibulk(mset), mset});
  s.push_back({"inline PING", "PING\r\n", {"PING"}});
  s.push_back({"inline with quotes", "SET k \"a b\"\n", {"SET", "k", "a b"}});
  s.push_back({"inline with LF only", "GET k\n", {"GET", "k"}});
  s.push_back(
      {"inline with escapes", "SET 'it\\'s' \"\\x41\\r\\n\"\r\n", {"SET", "it's", "A\r\n"}});
  return s;
}

// A heap copy of exactly n bytes, so ASan reports any read past the end.
std::unique_ptr<char[]> Copy(std::string_view s, size_t n) {
  auto p = std::make_unique<char[]>(n == 0 ? 1 : n);
  if (n > 0) memcpy(p.get(), s.data(), n);
  return p;
}

TEST_CASE("a frame split at every byte boundary parses once complete") {
  ParseLimits limits;
  for (const Sample& sample : Samples()) {
    CAPTURE(sample.name);
    const std::string& f = sample.frame;
    for (size_t cut = 0; cut < f.size(); cut++) {
      CAPTURE(cut);
      RespParser parser(&limits);
      auto prefix = Copy(f, cut);
      size_t consumed = 0;
      std::vector<std::string_view> argv;
      REQUIRE(parser.Parse(prefix.get(), cut, true, &consumed, &argv) == ParseStatus::kNeedMore);
      CHECK(consumed == 0);
      CHECK(parser.error().empty());
      // The bytes needed, when known, never exceed the frame and never claim
      // the prefix is already enough.
      if (parser.bytes_needed() != 0) {
        CHECK(parser.bytes_needed() > cut);
        CHECK(parser.bytes_needed() <= f.size());
      }
    }
    RespParser parser(&limits);
    auto whole = Copy(f, f.size());
    size_t consumed = 0;
    std::vector<std::string_view> argv;
    REQUIRE(parser.Parse(whole.get(), f.size(), true, &consumed, &argv) == ParseStatus::kCommand);
    CHECK(consumed == f.size());
    CHECK(Show(argv) == Show(sample.argv));
  }
}

TEST_CASE("one parser fed a growing buffer byte by byte yields each command exactly once") {
  ParseLimits limits;
  RespParser parser(&limits);
  std::string stream;
  std::vector<std::vector<std::string>> expected;
  for (const Sample& sample : Samples()) {
    stream += sample.frame;
    expected.push_back(sample.argv);
  }
  std::string pending;
  std::vector<std::vector<std::string>> got;
  for (char c : stream) {
    pending.push_back(c);
    while (true) {
      auto copy = Copy(pending, pending.size());
      size_t consumed = 0;
      std::vector<std::string_view> argv;
      ParseStatus st = parser.Parse(copy.get(), pending.size(), true, &consumed, &argv);
      REQUIRE(st != ParseStatus::kError);
      if (st == ParseStatus::kNeedMore) break;
      got.emplace_back(argv.begin(), argv.end());
      pending.erase(0, consumed);
    }
  }
  CHECK(pending.empty());
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); i++) CHECK(Show(got[i]) == Show(expected[i]));
}

TEST_CASE("pipelined frames in one buffer parse one after the other") {
  ParseLimits limits;
  RespParser parser(&limits);
  std::string buf;
  std::vector<Sample> samples = Samples();
  for (const Sample& s : samples) buf += s.frame;
  size_t pos = 0;
  for (const Sample& s : samples) {
    CAPTURE(s.name);
    size_t consumed = 0;
    std::vector<std::string_view> argv;
    REQUIRE(parser.Parse(buf.data() + pos, buf.size() - pos, true, &consumed, &argv) ==
            ParseStatus::kCommand);
    CHECK(consumed == s.frame.size());
    CHECK(Show(argv) == Show(s.argv));
    pos += consumed;
  }
  CHECK(pos == buf.size());
  size_t consumed = 0;
  std::vector<std::string_view> argv;
  CHECK(parser.Parse(buf.data() + pos, 0, true, &consumed, &argv) == ParseStatus::kNeedMore);
}

TEST_CASE("multibulk arguments point into the caller's buffer") {
  ParseLimits limits;
  RespParser parser(&limits);
  std::string buf = "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
  size_t consumed = 0;
  std::vector<std::string_view> argv;
  REQUIRE(parser.Parse(buf.data(), buf.size(), true, &consumed, &argv) == ParseStatus::kCommand);
  REQUIRE(argv.size() == 2);
  CHECK(argv[0].data() == buf.data() + 8);
  CHECK(argv[1].data() == buf.data() + 17);
}

TEST_CASE("*0, a non-positive count and blank inline lines give an empty command") {
  ParseLimits limits;
  RespParser parser(&limits);
  for (std::string frame : {"*0\r\n", "*-1\r\n", "\r\n", "\n", "   \r\n", " \t \n"}) {
    CAPTURE(test::Escape(frame));
    size_t consumed = 0;
    std::vector<std::string_view> argv = {"stale"};
    REQUIRE(parser.Parse(frame.data(), frame.size(), true, &consumed, &argv) ==
            ParseStatus::kCommand);
    CHECK(consumed == frame.size());
    CHECK(argv.empty());
  }
  // A blank line ahead of a command is consumed on its own.
  std::string buf = "\r\nPING\r\n";
  size_t consumed = 0;
  std::vector<std::string_view> argv;
  REQUIRE(parser.Parse(buf.data(), buf.size(), true, &consumed, &argv) == ParseStatus::kCommand);
  CHECK(consumed == 2);
  CHECK(argv.empty());
  REQUIRE(parser.Parse(buf.data() + 2, buf.size() - 2, true, &consumed, &argv) ==
          ParseStatus::kCommand);
  CHECK(Show(argv) == Show(std::vector<std::string>{"PING"}));
}

TEST_CASE("an empty buffer needs more") {
  ParseLimits limits;
  RespParser parser(&limits);
  size_t consumed = 0;
  std::vector<std::string_view> argv;
  CHECK(parser.Parse("", 0, true, &consumed, &argv) == ParseStatus::kNeedMore);
  CHECK(parser.Parse("", 0, false, &consumed, &argv) == ParseStatus::kNeedMore);
  CHECK(consumed == 0);
}

// Parses `input` with a fresh parser and returns the error text, or "" if it
// did not fail.
std::string ErrorOf(std::string_view input, const ParseLimits& limits, bool authenticated = true) {
  RespParser parser(&limits);
  auto copy = Copy(input, input.size());
  size_t consumed = 0;
  std::vector<std::string_view> argv;
  ParseStatus st = parser.Parse(copy.get(), input.size(), authenticated, &consumed, &argv);
  if (st != ParseStatus::kError) return "";
  return parser.error();
}

ParseStatus StatusOf(std::string_view input, const ParseLimits& limits, bool authenticated = true) {
  RespParser parser(&limits);
  auto copy = Copy(input, input.size());
  size_t consumed = 0;
  std::vector<std::string_view> argv;
  return parser.Parse(copy.get(), input.size(), authenticated, &consumed, &argv);
}

TEST_CASE("a bad multibulk count is 'invalid multibulk length'") {
  ParseLimits limits;
  const std::string kText = "Protocol error: invalid multibulk length";
  CHECK(ErrorOf("*abc\r\n", limits) == kText);
  CHECK(ErrorOf("*\r\n", limits) == kText);
  CHECK(ErrorOf("*1x\r\n", limits) == kText);
  CHECK(ErrorOf("*01\r\n", limits) == kText);
  CHECK(ErrorOf("*+1\r\n", limits) == kText);
  CHECK(ErrorOf("* 1\r\n", limits) == kText);
  CHECK(ErrorOf("*99999999999999999999\r\n", limits) == kText);
  CHECK(ErrorOf("*1048577\r\n", limits) == kText);  // max_multibulk_len + 1
  CHECK(StatusOf("*1048576\r\n", limits) == ParseStatus::kNeedMore);
  ParseLimits small;
  small.max_multibulk_len = 3;
  CHECK(ErrorOf("*4\r\n", small) == kText);
  CHECK(StatusOf("*3\r\n", small) == ParseStatus::kNeedMore);
}

TEST_CASE("a bad bulk length is 'invalid bulk length'") {
  ParseLimits limits;
  const std::string kText = "Protocol error: invalid bulk length";
  CHECK(ErrorOf("*1\r\n$-5\r\n", limits) == kText);
  CHECK(ErrorOf("*1\r\n$-1\r\n", limits) == kText);
  CHECK(ErrorOf("*1\r\n$\r\n", limits) == kText);
  CHECK(ErrorOf("*1\r\n$abc\r\n", limits) == kText);
  CHECK(ErrorOf("*1\r\n$03\r\n", limits) == kText);
  CHECK(ErrorOf("*1\r\n$536870913\r\n", limits) == kText);  // max_bulk_len + 1
  CHECK(ErrorOf("*2\r\n$3\r\nGET\r\n$99999999999999999999\r\n", limits) == kText);
  ParseLimits small;
  small.max_bulk_len = 10;
  CHECK(ErrorOf("*1\r\n$11\r\n", small) == kText);
  CHECK(StatusOf("*1\r\n$10\r\n", small) == ParseStatus::kNeedMore);
}

TEST_CASE("a multibulk argument not starting with '$' names the byte it got") {
  ParseLimits limits;
  CHECK(ErrorOf("*1\r\nx3\r\nfoo\r\n", limits) == "Protocol error: expected '$', got 'x'");
  CHECK(ErrorOf("*2\r\n$3\r\nGET\r\n:1\r\n", limits) == "Protocol error: expected '$', got ':'");
  // Checked as soon as the byte is there, without waiting for the line.
  CHECK(ErrorOf("*1\r\n*", limits) == "Protocol error: expected '$', got '*'");
}

TEST_CASE("a bulk not followed by CRLF is a protocol error") {
  ParseLimits limits;
  CHECK(StatusOf("*1\r\n$3\r\nfooXY", limits) == ParseStatus::kError);
  CHECK(StatusOf("*1\r\n$3\r\nfoo\rX", limits) == ParseStatus::kError);
  CHECK(StatusOf("*1\r\n$3\r\nfoo\r", limits) == ParseStatus::kNeedMore);
}

TEST_CASE("an inline request with no newline in more than 64 KiB is 'too big inline request'") {
  ParseLimits limits;
  std::string line(64 * 1024, 'a');
  CHECK(StatusOf(line, limits) == ParseStatus::kNeedMore);
  line.push_back('a');
  CHECK(ErrorOf(line, limits) == "Protocol error: too big inline request");
  ParseLimits small;
  small.max_inline_len = 8;
  CHECK(ErrorOf("GET abcdefgh", small) == "Protocol error: too big inline request");
  CHECK(StatusOf("GET abcd", small) == ParseStatus::kNeedMore);
}

TEST_CASE("a multibulk count line longer than 64 KiB is 'too big mbulk count string'") {
  ParseLimits limits;
  std::string header = "*" + std::string(64 * 1024, '1');
  CHECK(ErrorOf(header, limits) == "Protocol error: too big mbulk count string");
  CHECK(StatusOf(header.substr(0, 64 * 1024), limits) == ParseStatus::kNeedMore);
}

TEST_CASE("a bulk length line longer than 64 KiB is 'too big bulk count string'") {
  ParseLimits limits;
  std::string frame = "*1\r\n$" + std::string(64 * 1024 - 1, '1');  // "$" + digits = 64 KiB
  CHECK(StatusOf(frame, limits) == ParseStatus::kNeedMore);
  frame.push_back('1');
  CHECK(ErrorOf(frame, limits) == "Protocol error: too big bulk count string");
}

TEST_CASE("an inline request with unbalanced quotes is 'unbalanced quotes in request'") {
  ParseLimits limits;
  const std::string kText = "Protocol error: unbalanced quotes in request";
  CHECK(ErrorOf("SET k \"abc\r\n", limits) == kText);
  CHECK(ErrorOf("SET k 'abc\n", limits) == kText);
  CHECK(ErrorOf("SET k \"a\"b\r\n", limits) == kText);
  // Without the newline the line is not complete yet.
  CHECK(StatusOf("SET k \"abc", limits) == ParseStatus::kNeedMore);
}

TEST_CASE("before AUTH only small multibulk requests are accepted") {
  ParseLimits limits;
  CHECK(ErrorOf("*11\r\n", limits, false) == "Protocol error: unauthenticated multibulk length");
  CHECK(StatusOf("*10\r\n", limits, false) == ParseStatus::kNeedMore);
  CHECK(StatusOf("*11\r\n", limits, true) == ParseStatus::kNeedMore);
  CHECK(ErrorOf("*1\r\n$16385\r\n", limits, false) ==
        "Protocol error: unauthenticated bulk length");
  CHECK(StatusOf("*1\r\n$16384\r\n", limits, false) == ParseStatus::kNeedMore);
  CHECK(StatusOf("*1\r\n$16385\r\n", limits, true) == ParseStatus::kNeedMore);
  // Over the authenticated limit too: the general error wins.
  CHECK(ErrorOf("*1\r\n$536870913\r\n", limits, false) == "Protocol error: invalid bulk length");
  CHECK(ErrorOf("*1048577\r\n", limits, false) == "Protocol error: invalid multibulk length");
  // A complete small command parses unauthenticated.
  std::string auth = "*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n";
  CHECK(StatusOf(auth, limits, false) == ParseStatus::kCommand);
}

TEST_CASE("bytes_needed reports the full size of a pending large bulk") {
  ParseLimits limits;
  RespParser parser(&limits);
  std::string head = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n";
  std::string frame = head + std::string(100000, 'v') + "\r\n";
  size_t consumed = 0;
  std::vector<std::string_view> argv;
  for (size_t have : {head.size(), head.size() + 1, head.size() + 50000, frame.size() - 1}) {
    CAPTURE(have);
    REQUIRE(parser.Parse(frame.data(), have, true, &consumed, &argv) == ParseStatus::kNeedMore);
    CHECK(parser.bytes_needed() == frame.size());
  }
  REQUIRE(parser.Parse(frame.data(), frame.size(), true, &consumed, &argv) ==
          ParseStatus::kCommand);
  CHECK(consumed == frame.size());
  REQUIRE(argv.size() == 3);
  CHECK(argv[2].size() == 100000);
  // A later parse resets it.
  REQUIRE(parser.Parse("PING\r\n", 6, true, &consumed, &argv) == ParseStatus::kCommand);
  CHECK(parser.bytes_needed() == 0);
}

TEST_CASE("bytes_needed is 0 while the header lines are still incomplete") {
  ParseLimits limits;
  RespParser parser(&limits);
  size_t consumed = 0;
  std::vector<std::string_view> argv;
  REQUIRE(parser.Parse("*2\r\n$3", 6, true, &consumed, &argv) == ParseStatus::kNeedMore);
  CHECK(parser.bytes_needed() == 0);
  std::string second_header_cut = "*2\r\n$3\r\nGET\r\n$1";
  REQUIRE(parser.Parse(second_header_cut.data(), second_header_cut.size(), true, &consumed,
                       &argv) == ParseStatus::kNeedMore);
  CHECK(parser.bytes_needed() == 0);
}

TEST_CASE("a huge declared bulk within the limit needs more instead of allocating") {
  ParseLimits limits;  // max_bulk_len is 512 MB
  RespParser parser(&limits);
  std::string head = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\n";
  std::string buf = head + "partial";
  size_t consumed = 0;
  std::vector<std::string_view> argv;
  REQUIRE(parser.Parse(buf.data(), buf.size(), true, &consumed, &argv) == ParseStatus::kNeedMore);
  CHECK(consumed == 0);
  CHECK(parser.bytes_needed() == head.size() + 536870912 + 2);
  CHECK(argv.capacity() < 1024);
}

TEST_CASE("a huge multibulk count within the limit needs more without reserving it all") {
  ParseLimits limits;
  RespParser parser(&limits);
  size_t consumed = 0;
  std::vector<std::string_view> argv;
  std::string head = "*1048576\r\n$1\r\na\r\n";
  REQUIRE(parser.Parse(head.data(), head.size(), true, &consumed, &argv) == ParseStatus::kNeedMore);
  CHECK(argv.capacity() < 1048576);
}

TEST_CASE("the parser recovers after an error on a fresh buffer") {
  ParseLimits limits;
  RespParser parser(&limits);
  size_t consumed = 0;
  std::vector<std::string_view> argv;
  REQUIRE(parser.Parse("*abc\r\n", 6, true, &consumed, &argv) == ParseStatus::kError);
  std::string ok = "*1\r\n$4\r\nPING\r\n";
  REQUIRE(parser.Parse(ok.data(), ok.size(), true, &consumed, &argv) == ParseStatus::kCommand);
  CHECK(Show(argv) == Show(std::vector<std::string>{"PING"}));
}

TEST_CASE("PeekKeys finds each complete command's second argument, like Parse") {
  // Every prefix of a pipeline of all the multibulk samples: PeekKeys
  // returns the keys of exactly the complete commands Parse would accept,
  // up to the first it cannot use, and reads nothing past the end (ASan).
  std::string pipeline;
  std::vector<std::string> keys;
  std::vector<size_t> ends;
  for (const Sample& s : Samples()) {
    if (s.frame[0] != '*') continue;
    pipeline += s.frame;
    keys.push_back(s.argv[1]);
    ends.push_back(pipeline.size());
  }
  REQUIRE(keys.size() == 6);
  for (size_t n = 0; n <= pipeline.size(); n++) {
    CAPTURE(n);
    auto buf = Copy(pipeline, n);
    std::string_view got[16];
    size_t complete = 0;
    while (complete < ends.size() && ends[complete] <= n) complete++;
    REQUIRE(PeekKeys(buf.get(), n, got, 16) == complete);
    for (size_t i = 0; i < complete; i++) CHECK(got[i] == keys[i]);
  }
  std::string_view got[16];
  CHECK(PeekKeys(pipeline.data(), pipeline.size(), got, 2) == 2);
  CHECK(got[1] == "key");
}

TEST_CASE("PeekKeys stops at inline, one-argument, oversized and malformed commands") {
  std::string_view got[4];
  const std::string set = "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nv\r\n";
  CHECK(PeekKeys("GET k\r\n", 7, got, 4) == 0);
  for (const std::string tail :
       {"*1\r\n$4\r\nPING\r\n", "GET k\r\n", "*2\r\n$-1\r\n", "*2\r\n$1234567890\r\nx", "*x\r\n",
        "*2\r\n$3\r\nGET\r\n$1\r\nk", "*2\n$3\r\nGET\r\n$1\r\nk\r\n",
        "*02\r\n$3\r\nGET\r\n$99999999999\r\n"}) {
    CAPTURE(tail);
    std::string buf = set + tail + set;
    CHECK(PeekKeys(buf.data(), buf.size(), got, 4) == 1);
    CHECK(got[0] == "a");
  }
}

}  // namespace
}  // namespace kv::resp
