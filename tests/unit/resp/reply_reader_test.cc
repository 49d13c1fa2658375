// ReplyReader over what ReplyWriter writes (RESP2 and RESP3), every
// truncation of it, and malformed replies.
#include "resp/reply_reader.h"

#include <doctest/doctest.h>

#include <string>

#include "resp/reply.h"
#include "util/buffer.h"

namespace kv::resp {
namespace {

std::string Sample(int protocol) {
  util::Buffer b;
  ReplyWriter w(&b, protocol);
  w.ArrayHeader(7);
  w.Bulk("hello");
  w.Null();
  w.Integer(-42);
  w.Simple("OK");
  w.Error("ERR nope");
  w.MapHeader(1);
  w.Bulk("k");
  w.ArrayHeader(2);
  w.Bulk(std::string("bin\r\n\0ary", 10));
  w.Double(1.5);
  w.NullArray();
  return std::string(b.view());
}

TEST_CASE("ReplyLength measures whole replies and refuses every truncation") {
  for (int protocol : {2, 3}) {
    CAPTURE(protocol);
    std::string s = Sample(protocol);
    CHECK(ReplyLength(s) == s.size());
    CHECK(ReplyLength(s + "+next\r\n") == s.size());
    for (size_t n = 0; n < s.size(); n++) CHECK_MESSAGE(ReplyLength(s.substr(0, n)) == 0, n);
    std::vector<std::string_view> elements;
    REQUIRE(ArrayElements(s, &elements));
    REQUIRE(elements.size() == 7);
    CHECK(elements[0] == "$5\r\nhello\r\n");
    CHECK(elements[2] == ":-42\r\n");
    CHECK(IsErrorReply(elements[4]));
    int64_t v = 0;
    CHECK(IntegerValue(elements[2], &v));
    CHECK(v == -42);
    CHECK(!IntegerValue(elements[0], &v));
  }
}

TEST_CASE("malformed replies are refused") {
  std::vector<std::string_view> e;
  for (const char* bad :
       {"", "?x\r\n", "$5\r\nab\r\n", "$-2\r\n", "*-2\r\n", "*1\r\n", "$3\r\nabcXY",
        "*99999999999\r\n", ":12a\r\n", "$99999999999999999999\r\n"}) {
    CAPTURE(bad);
    CHECK(ReplyLength(bad) == 0);
    CHECK(!ArrayElements(bad, &e));
  }
  std::string deep;
  for (int i = 0; i < 100; i++) deep += "*1\r\n";
  deep += ":1\r\n";
  CHECK(ReplyLength(deep) == 0);  // nested deeper than 64
  CHECK(!ArrayElements("*-1\r\n", &e));
  CHECK(!ArrayElements(":1\r\n", &e));
  CHECK(ArrayElements("*0\r\n", &e));
  CHECK(e.empty());
}

}  // namespace
}  // namespace kv::resp
