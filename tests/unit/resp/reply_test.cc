// ReplyWriter: the exact bytes of every reply type in RESP2 and RESP3.
#include "resp/reply.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <string>

#include "../test_util.h"
#include "util/buffer.h"

namespace kv::resp {
namespace {

using test::Escape;

// The bytes `write` produces on a fresh buffer in `protocol`.
std::string Encode(int protocol, const std::function<void(ReplyWriter&)>& write) {
  util::Buffer buf;
  ReplyWriter w(&buf, protocol);
  write(w);
  return std::string(buf.view());
}

// Checks that `write` produces `resp2` in RESP2 and `resp3` in RESP3.
void Expect(const std::function<void(ReplyWriter&)>& write, const std::string& resp2,
            const std::string& resp3) {
  CHECK(Escape(Encode(2, write)) == Escape(resp2));
  CHECK(Escape(Encode(3, write)) == Escape(resp3));
}

TEST_CASE("Ok and Simple are status lines in both protocols") {
  Expect([](ReplyWriter& w) { w.Ok(); }, "+OK\r\n", "+OK\r\n");
  Expect([](ReplyWriter& w) { w.Simple("PONG"); }, "+PONG\r\n", "+PONG\r\n");
  Expect([](ReplyWriter& w) { w.Simple(""); }, "+\r\n", "+\r\n");
}

TEST_CASE("Error prefixes '-' and replaces CR and LF by spaces") {
  Expect([](ReplyWriter& w) { w.Error("ERR syntax error"); }, "-ERR syntax error\r\n",
         "-ERR syntax error\r\n");
  Expect([](ReplyWriter& w) { w.Error("ERR bad\r\nthing\nhere\r"); }, "-ERR bad  thing here \r\n",
         "-ERR bad  thing here \r\n");
}

TEST_CASE("Integer covers zero, negatives and the int64 extremes") {
  Expect([](ReplyWriter& w) { w.Integer(0); }, ":0\r\n", ":0\r\n");
  Expect([](ReplyWriter& w) { w.Integer(7); }, ":7\r\n", ":7\r\n");
  Expect([](ReplyWriter& w) { w.Integer(-1); }, ":-1\r\n", ":-1\r\n");
  Expect([](ReplyWriter& w) { w.Integer(1234567890); }, ":1234567890\r\n", ":1234567890\r\n");
  Expect([](ReplyWriter& w) { w.Integer(std::numeric_limits<int64_t>::max()); },
         ":9223372036854775807\r\n", ":9223372036854775807\r\n");
  Expect([](ReplyWriter& w) { w.Integer(std::numeric_limits<int64_t>::min()); },
         ":-9223372036854775808\r\n", ":-9223372036854775808\r\n");
}

TEST_CASE("Bulk is length-prefixed and binary safe") {
  using namespace std::string_literals;
  Expect([](ReplyWriter& w) { w.Bulk(""); }, "$0\r\n\r\n", "$0\r\n\r\n");
  Expect([](ReplyWriter& w) { w.Bulk("bar"); }, "$3\r\nbar\r\n", "$3\r\nbar\r\n");
  std::string binary = "a\0\r\nb"s;
  Expect([&](ReplyWriter& w) { w.Bulk(binary); }, "$5\r\n" + binary + "\r\n",
         "$5\r\n" + binary + "\r\n");
  std::string big(100000, 'x');
  Expect([&](ReplyWriter& w) { w.Bulk(big); }, "$100000\r\n" + big + "\r\n",
         "$100000\r\n" + big + "\r\n");
}

TEST_CASE("Null is $-1 in RESP2 and _ in RESP3; NullArray is *-1 and _") {
  Expect([](ReplyWriter& w) { w.Null(); }, "$-1\r\n", "_\r\n");
  Expect([](ReplyWriter& w) { w.NullArray(); }, "*-1\r\n", "_\r\n");
}

TEST_CASE("aggregate headers: arrays, maps as 2n-element arrays in RESP2, sets as arrays") {
  Expect([](ReplyWriter& w) { w.ArrayHeader(0); }, "*0\r\n", "*0\r\n");
  Expect([](ReplyWriter& w) { w.ArrayHeader(9); }, "*9\r\n", "*9\r\n");
  Expect([](ReplyWriter& w) { w.ArrayHeader(10); }, "*10\r\n", "*10\r\n");
  Expect([](ReplyWriter& w) { w.ArrayHeader(1048576); }, "*1048576\r\n", "*1048576\r\n");
  Expect([](ReplyWriter& w) { w.MapHeader(0); }, "*0\r\n", "%0\r\n");
  Expect([](ReplyWriter& w) { w.MapHeader(2); }, "*4\r\n", "%2\r\n");
  Expect([](ReplyWriter& w) { w.MapHeader(5); }, "*10\r\n", "%5\r\n");
  Expect([](ReplyWriter& w) { w.SetHeader(3); }, "*3\r\n", "~3\r\n");
  Expect([](ReplyWriter& w) { w.SetHeader(12); }, "*12\r\n", "~12\r\n");
}

TEST_CASE("Double is a bulk string in RESP2 and a ',' line in RESP3") {
  Expect([](ReplyWriter& w) { w.Double(1.5); }, "$3\r\n1.5\r\n", ",1.5\r\n");
  Expect([](ReplyWriter& w) { w.Double(-2.25); }, "$5\r\n-2.25\r\n", ",-2.25\r\n");
  Expect([](ReplyWriter& w) { w.Double(0); }, "$1\r\n0\r\n", ",0\r\n");
  Expect([](ReplyWriter& w) { w.Double(3); }, "$1\r\n3\r\n", ",3\r\n");
  Expect([](ReplyWriter& w) { w.Double(std::numeric_limits<double>::infinity()); }, "$3\r\ninf\r\n",
         ",inf\r\n");
  Expect([](ReplyWriter& w) { w.Double(-std::numeric_limits<double>::infinity()); },
         "$4\r\n-inf\r\n", ",-inf\r\n");
}

TEST_CASE("Bool is :1/:0 in RESP2 and #t/#f in RESP3") {
  Expect([](ReplyWriter& w) { w.Bool(true); }, ":1\r\n", "#t\r\n");
  Expect([](ReplyWriter& w) { w.Bool(false); }, ":0\r\n", "#f\r\n");
}

TEST_CASE("Verbatim is a bulk string in RESP2 and a txt verbatim string in RESP3") {
  Expect([](ReplyWriter& w) { w.Verbatim("hi"); }, "$2\r\nhi\r\n", "=6\r\ntxt:hi\r\n");
  Expect([](ReplyWriter& w) { w.Verbatim(""); }, "$0\r\n\r\n", "=4\r\ntxt:\r\n");
  std::string info = "# Server\r\nredis_version:7.0.0\r\n";
  Expect([&](ReplyWriter& w) { w.Verbatim(info); },
         "$" + std::to_string(info.size()) + "\r\n" + info + "\r\n",
         "=" + std::to_string(info.size() + 4) + "\r\ntxt:" + info + "\r\n");
}

TEST_CASE("Raw appends bytes unchanged") {
  Expect([](ReplyWriter& w) { w.Raw("+already encoded\r\n"); }, "+already encoded\r\n",
         "+already encoded\r\n");
}

TEST_CASE("replies append one after another and the protocol can switch midway") {
  util::Buffer buf;
  ReplyWriter w(&buf, 2);
  CHECK(w.protocol() == 2);
  CHECK(w.buffer() == &buf);
  w.MapHeader(1);
  w.Bulk("k");
  w.Null();
  w.set_protocol(3);
  CHECK(w.protocol() == 3);
  w.MapHeader(1);
  w.Bulk("k");
  w.Null();
  CHECK(Escape(std::string(buf.view())) ==
        Escape("*2\r\n$1\r\nk\r\n$-1\r\n%1\r\n$1\r\nk\r\n_\r\n"));
}

TEST_CASE("many small replies grow the buffer without corrupting earlier bytes") {
  util::Buffer buf;
  ReplyWriter w(&buf, 2);
  std::string expected;
  for (int i = 0; i < 5000; i++) {
    w.Integer(i);
    expected += ":" + std::to_string(i) + "\r\n";
    std::string s(static_cast<size_t>(i % 37), static_cast<char>('a' + i % 26));
    w.Bulk(s);
    expected += "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
  }
  CHECK(buf.view() == expected);
}

}  // namespace
}  // namespace kv::resp
