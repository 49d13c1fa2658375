// String commands: GET SET (and its options) SETNX SETEX PSETEX GETSET GETDEL
// GETEX MGET MSET MSETNX APPEND STRLEN INCR DECR INCRBY DECRBY INCRBYFLOAT,
// checked reply by reply against Redis 7's exact types and texts.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "helpers/reply.h"
#include "helpers/server_process.h"

using namespace kv::test;

namespace {

const char* const kServer = "strings";

ServerProcess& Server() { return SharedServer(kServer); }

long long NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

long long NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool Between(long long v, long long lo, long long hi) { return lo <= v && v <= hi; }

const Reply kOK = Status("OK");
const Reply kSyntax = Error("ERR syntax error");
const Reply kNotInt = Error("ERR value is not an integer or out of range");
const Reply kNotFloat = Error("ERR value is not a valid float");

}  // namespace

TEST_CASE("GET of a missing key is nil; SET then GET returns the value") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"GET", "k"}) == Nil());
  CHECK(Call(c, {"SET", "k", "v"}) == kOK);
  CHECK(Call(c, {"GET", "k"}) == Bulk("v"));
  CHECK(Call(c, {"SET", "k", "v2"}) == kOK);
  CHECK(Call(c, {"GET", "k"}) == Bulk("v2"));
  CHECK(Call(c, {"SET", "empty", ""}) == kOK);
  CHECK(Call(c, {"GET", "empty"}) == Bulk(""));
}

TEST_CASE("SET EX, PX, EXAT and PXAT set the TTL; options are case-insensitive") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"SET", "a", "1", "EX", "100"}) == kOK);
  CHECK(Between(CallInt(c, {"TTL", "a"}), 95, 100));
  CHECK(Call(c, {"SET", "b", "1", "px", "100000"}) == kOK);
  CHECK(Between(CallInt(c, {"PTTL", "b"}), 95000, 100000));
  CHECK(Call(c, {"SET", "c", "1", "EXAT", std::to_string(NowSeconds() + 100)}) == kOK);
  CHECK(Between(CallInt(c, {"TTL", "c"}), 95, 100));
  CHECK(Call(c, {"SET", "d", "1", "PXAT", std::to_string(NowMillis() + 100000)}) == kOK);
  CHECK(Between(CallInt(c, {"PTTL", "d"}), 95000, 100000));
  CHECK(Call(c, {"GET", "d"}) == Bulk("1"));
}

TEST_CASE("SET EXAT/PXAT in the past stores nothing visible") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"SET", "k", "v", "PXAT", "1"}) == kOK);
  CHECK(Call(c, {"GET", "k"}) == Nil());
  CHECK(Call(c, {"SET", "k", "v", "EXAT", "1"}) == kOK);
  CHECK(Call(c, {"EXISTS", "k"}) == Int(0));
}

TEST_CASE("SET NX and XX") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"SET", "k", "v1", "XX"}) == Nil());
  CHECK(Call(c, {"GET", "k"}) == Nil());
  CHECK(Call(c, {"SET", "k", "v1", "NX"}) == kOK);
  CHECK(Call(c, {"SET", "k", "v2", "NX"}) == Nil());
  CHECK(Call(c, {"GET", "k"}) == Bulk("v1"));
  CHECK(Call(c, {"SET", "k", "v3", "XX"}) == kOK);
  CHECK(Call(c, {"GET", "k"}) == Bulk("v3"));
}

TEST_CASE("SET KEEPTTL keeps the TTL; SET without it clears the TTL") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"SET", "k", "v", "EX", "100"}) == kOK);
  CHECK(Call(c, {"SET", "k", "v2", "KEEPTTL"}) == kOK);
  CHECK(Between(CallInt(c, {"TTL", "k"}), 95, 100));
  CHECK(Call(c, {"GET", "k"}) == Bulk("v2"));
  CHECK(Call(c, {"SET", "k", "v3"}) == kOK);
  CHECK(Call(c, {"TTL", "k"}) == Int(-1));
}

TEST_CASE("SET GET returns the old value (nil when missing)") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"SET", "k", "v1", "GET"}) == Nil());
  CHECK(Call(c, {"SET", "k", "v2", "GET"}) == Bulk("v1"));
  CHECK(Call(c, {"GET", "k"}) == Bulk("v2"));
  // With NX the old value comes back and nothing is written (Redis 7).
  CHECK(Call(c, {"SET", "k", "v3", "NX", "GET"}) == Bulk("v2"));
  CHECK(Call(c, {"GET", "k"}) == Bulk("v2"));
  CHECK(Call(c, {"SET", "k", "v4", "XX", "GET", "EX", "100"}) == Bulk("v2"));
  CHECK(Between(CallInt(c, {"TTL", "k"}), 95, 100));
  CHECK(Call(c, {"SET", "new", "v", "XX", "GET"}) == Nil());
  CHECK(Call(c, {"EXISTS", "new"}) == Int(0));
}

TEST_CASE("SET with conflicting or malformed options is a syntax error") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"SET", "k", "v", "EX", "10", "PX", "100"}) == kSyntax);
  CHECK(Call(c, {"SET", "k", "v", "NX", "XX"}) == kSyntax);
  CHECK(Call(c, {"SET", "k", "v", "KEEPTTL", "EX", "10"}) == kSyntax);
  CHECK(Call(c, {"SET", "k", "v", "EX", "10", "KEEPTTL"}) == kSyntax);
  CHECK(Call(c, {"SET", "k", "v", "EXAT", "10", "PXAT", "100"}) == kSyntax);
  CHECK(Call(c, {"SET", "k", "v", "EX"}) == kSyntax);
  CHECK(Call(c, {"SET", "k", "v", "FOO"}) == kSyntax);
  CHECK(Call(c, {"SET", "k", "v", "EX", "abc"}) == kNotInt);
  CHECK(Call(c, {"SET", "k", "v", "EX", "0"}) == Error("ERR invalid expire time in 'set' command"));
  CHECK(Call(c, {"SET", "k", "v", "PX", "-5"}) ==
        Error("ERR invalid expire time in 'set' command"));
  CHECK(Call(c, {"SET", "k", "v", "EX", "99999999999999999"}) ==
        Error("ERR invalid expire time in 'set' command"));
  CHECK(Call(c, {"SET", "k"}) == Error("ERR wrong number of arguments for 'set' command"));
  CHECK(Call(c, {"EXISTS", "k"}) == Int(0));
}

TEST_CASE("SET and GETEX accept the same option twice; the last value wins") {
  // Redis only rejects combinations of different options (EX with PX, NX
  // with XX...); a repeated one is parsed again.
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"SET", "k", "v", "EX", "1", "EX", "100"}) == kOK);
  CHECK(Between(CallInt(c, {"TTL", "k"}), 95, 100));
  CHECK(Call(c, {"SET", "k", "v", "PX", "1", "PX", "200000"}) == kOK);
  CHECK(Between(CallInt(c, {"PTTL", "k"}), 195000, 200000));
  CHECK(Call(c, {"SET", "k", "v", "NX", "NX"}) == Nil());
  CHECK(Call(c, {"SET", "k", "v2", "GET", "GET"}) == Bulk("v"));
  CHECK(Call(c, {"GETEX", "k", "PERSIST", "PERSIST"}) == Bulk("v2"));
  CHECK(Call(c, {"GETEX", "k", "EX", "1", "EX", "300"}) == Bulk("v2"));
  CHECK(Between(CallInt(c, {"TTL", "k"}), 295, 300));
}

TEST_CASE("SETNX sets only a missing key") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"SETNX", "k", "v1"}) == Int(1));
  CHECK(Call(c, {"SETNX", "k", "v2"}) == Int(0));
  CHECK(Call(c, {"GET", "k"}) == Bulk("v1"));
}

TEST_CASE("SETEX and PSETEX set value and TTL; bad expire times are errors") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"SETEX", "k", "100", "v"}) == kOK);
  CHECK(Call(c, {"GET", "k"}) == Bulk("v"));
  CHECK(Between(CallInt(c, {"TTL", "k"}), 95, 100));
  CHECK(Call(c, {"PSETEX", "p", "100000", "v"}) == kOK);
  CHECK(Between(CallInt(c, {"PTTL", "p"}), 95000, 100000));
  CHECK(Call(c, {"SETEX", "k", "0", "v"}) == Error("ERR invalid expire time in 'setex' command"));
  CHECK(Call(c, {"SETEX", "k", "-5", "v"}) == Error("ERR invalid expire time in 'setex' command"));
  CHECK(Call(c, {"PSETEX", "k", "0", "v"}) == Error("ERR invalid expire time in 'psetex' command"));
  CHECK(Call(c, {"SETEX", "k", "abc", "v"}) == kNotInt);
  CHECK(Call(c, {"SETEX", "k", "10"}) ==
        Error("ERR wrong number of arguments for 'setex' command"));
}

TEST_CASE("GETSET returns the old value and clears the TTL") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"GETSET", "k", "v1"}) == Nil());
  CHECK(Call(c, {"GET", "k"}) == Bulk("v1"));
  CHECK(Call(c, {"EXPIRE", "k", "100"}) == Int(1));
  CHECK(Call(c, {"GETSET", "k", "v2"}) == Bulk("v1"));
  CHECK(Call(c, {"GET", "k"}) == Bulk("v2"));
  CHECK(Call(c, {"TTL", "k"}) == Int(-1));
}

TEST_CASE("GETDEL returns the value and deletes the key") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"GETDEL", "k"}) == Nil());
  CHECK(Call(c, {"SET", "k", "v"}) == kOK);
  CHECK(Call(c, {"GETDEL", "k"}) == Bulk("v"));
  CHECK(Call(c, {"EXISTS", "k"}) == Int(0));
  CHECK(Call(c, {"GETDEL", "k"}) == Nil());
}

TEST_CASE("GETEX changes or removes the TTL and returns the value") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"GETEX", "k"}) == Nil());
  CHECK(Call(c, {"GETEX", "k", "EX", "100"}) == Nil());
  CHECK(Call(c, {"EXISTS", "k"}) == Int(0));
  CHECK(Call(c, {"SET", "k", "v"}) == kOK);
  CHECK(Call(c, {"GETEX", "k"}) == Bulk("v"));
  CHECK(Call(c, {"TTL", "k"}) == Int(-1));
  CHECK(Call(c, {"GETEX", "k", "EX", "100"}) == Bulk("v"));
  CHECK(Between(CallInt(c, {"TTL", "k"}), 95, 100));
  CHECK(Call(c, {"GETEX", "k", "PERSIST"}) == Bulk("v"));
  CHECK(Call(c, {"TTL", "k"}) == Int(-1));
  CHECK(Call(c, {"GETEX", "k", "PX", "200000"}) == Bulk("v"));
  CHECK(Between(CallInt(c, {"PTTL", "k"}), 195000, 200000));
  CHECK(Call(c, {"GETEX", "k", "EXAT", std::to_string(NowSeconds() + 300)}) == Bulk("v"));
  CHECK(Between(CallInt(c, {"TTL", "k"}), 295, 300));
  CHECK(Call(c, {"GETEX", "k", "PXAT", std::to_string(NowMillis() + 400000)}) == Bulk("v"));
  CHECK(Between(CallInt(c, {"TTL", "k"}), 395, 400));
}

TEST_CASE("GETEX with a past EXAT deletes the key; bad options are errors") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"SET", "k", "v"}) == kOK);
  CHECK(Call(c, {"GETEX", "k", "PERSIST", "EX", "10"}) == kSyntax);
  CHECK(Call(c, {"GETEX", "k", "EX", "10", "PX", "10"}) == kSyntax);
  CHECK(Call(c, {"GETEX", "k", "BAR"}) == kSyntax);
  CHECK(Call(c, {"GETEX", "k", "EX", "abc"}) == kNotInt);
  CHECK(Call(c, {"GETEX", "k", "EX", "0"}) == Error("ERR invalid expire time in 'getex' command"));
  CHECK(Call(c, {"GETEX", "k", "EX", "-1"}) == Error("ERR invalid expire time in 'getex' command"));
  CHECK(Call(c, {"GET", "k"}) == Bulk("v"));
  CHECK(Call(c, {"TTL", "k"}) == Int(-1));
  CHECK(Call(c, {"GETEX", "k", "EXAT", "1"}) == Bulk("v"));
  CHECK(Call(c, {"EXISTS", "k"}) == Int(0));
}

TEST_CASE("MSET, MGET and MSETNX") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"MSET", "a", "1", "b", "2"}) == kOK);
  CHECK(Call(c, {"MGET", "a", "missing", "b", "a"}) ==
        Array({Bulk("1"), Nil(), Bulk("2"), Bulk("1")}));
  CHECK(Call(c, {"MSET", "a", "10", "a", "11"}) == kOK);
  CHECK(Call(c, {"GET", "a"}) == Bulk("11"));
  CHECK(Call(c, {"MSET", "a"}) == Error("ERR wrong number of arguments for 'mset' command"));
  CHECK(Call(c, {"MSET", "a", "1", "b"}) ==
        Error("ERR wrong number of arguments for 'mset' command"));
  CHECK(Call(c, {"MGET"}) == Error("ERR wrong number of arguments for 'mget' command"));
  // MSETNX is all or nothing.
  CHECK(Call(c, {"MSETNX", "a", "x", "c", "3"}) == Int(0));
  CHECK(Call(c, {"MGET", "a", "c"}) == Array({Bulk("11"), Nil()}));
  CHECK(Call(c, {"MSETNX", "c", "3", "d", "4"}) == Int(1));
  CHECK(Call(c, {"MGET", "c", "d"}) == Array({Bulk("3"), Bulk("4")}));
  CHECK(Call(c, {"MSETNX", "e", "1", "f"}) ==
        Error("ERR wrong number of arguments for 'msetnx' command"));
}

TEST_CASE("MSET clears TTLs of the keys it sets") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"SET", "a", "1", "EX", "100"}) == kOK);
  CHECK(Call(c, {"MSET", "a", "2"}) == kOK);
  CHECK(Call(c, {"TTL", "a"}) == Int(-1));
}

TEST_CASE("APPEND and STRLEN") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"STRLEN", "k"}) == Int(0));
  CHECK(Call(c, {"APPEND", "k", "Hello"}) == Int(5));
  CHECK(Call(c, {"APPEND", "k", " World"}) == Int(11));
  CHECK(Call(c, {"GET", "k"}) == Bulk("Hello World"));
  CHECK(Call(c, {"STRLEN", "k"}) == Int(11));
  CHECK(Call(c, {"APPEND", "k", ""}) == Int(11));
  // APPEND keeps the TTL.
  CHECK(Call(c, {"EXPIRE", "k", "100"}) == Int(1));
  CHECK(Call(c, {"APPEND", "k", "!"}) == Int(12));
  CHECK(Between(CallInt(c, {"TTL", "k"}), 95, 100));
}

TEST_CASE("INCR DECR INCRBY DECRBY count on integer strings") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"INCR", "n"}) == Int(1));
  CHECK(Call(c, {"INCR", "n"}) == Int(2));
  CHECK(Call(c, {"DECR", "n"}) == Int(1));
  CHECK(Call(c, {"INCRBY", "n", "10"}) == Int(11));
  CHECK(Call(c, {"INCRBY", "n", "-20"}) == Int(-9));
  CHECK(Call(c, {"DECRBY", "n", "1"}) == Int(-10));
  CHECK(Call(c, {"GET", "n"}) == Bulk("-10"));
  CHECK(Call(c, {"DECR", "fresh"}) == Int(-1));
  CHECK(Call(c, {"DECRBY", "fresh2", "5"}) == Int(-5));
  CHECK(Call(c, {"SET", "n", "100"}) == kOK);
  CHECK(Call(c, {"EXPIRE", "n", "100"}) == Int(1));
  CHECK(Call(c, {"INCR", "n"}) == Int(101));
  CHECK(Between(CallInt(c, {"TTL", "n"}), 95, 100));  // INCR keeps the TTL
}

TEST_CASE("INCR family rejects non-integers and overflow") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"SET", "s", "abc"}) == kOK);
  CHECK(Call(c, {"INCR", "s"}) == kNotInt);
  CHECK(Call(c, {"SET", "s", "1.5"}) == kOK);
  CHECK(Call(c, {"INCR", "s"}) == kNotInt);
  CHECK(Call(c, {"SET", "s", " 1"}) == kOK);
  CHECK(Call(c, {"INCR", "s"}) == kNotInt);
  CHECK(Call(c, {"SET", "s", "99999999999999999999"}) == kOK);
  CHECK(Call(c, {"INCR", "s"}) == kNotInt);
  CHECK(Call(c, {"INCRBY", "n", "abc"}) == kNotInt);
  CHECK(Call(c, {"INCRBY", "n", "1.0"}) == kNotInt);
  CHECK(Call(c, {"DECRBY", "n", ""}) == kNotInt);
  CHECK(Call(c, {"EXISTS", "n"}) == Int(0));

  const Reply overflow = Error("ERR increment or decrement would overflow");
  CHECK(Call(c, {"SET", "n", "9223372036854775807"}) == kOK);
  CHECK(Call(c, {"INCR", "n"}) == overflow);
  CHECK(Call(c, {"INCRBY", "n", "1"}) == overflow);
  CHECK(Call(c, {"GET", "n"}) == Bulk("9223372036854775807"));
  CHECK(Call(c, {"SET", "n", "-9223372036854775808"}) == kOK);
  CHECK(Call(c, {"DECR", "n"}) == overflow);
  CHECK(Call(c, {"INCRBY", "n", "-1"}) == overflow);
  CHECK(Call(c, {"GET", "n"}) == Bulk("-9223372036854775808"));
  CHECK(Call(c, {"SET", "n", "0"}) == kOK);
  CHECK(Call(c, {"INCRBY", "n", "9223372036854775807"}) == Int(9223372036854775807LL));
  CHECK(Call(c, {"INCRBY", "n", "-9223372036854775808"}) == Int(-1));
}

TEST_CASE("INCRBYFLOAT adds and formats like Redis") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"INCRBYFLOAT", "f", "3.5"}) == Bulk("3.5"));
  CHECK(Call(c, {"GET", "f"}) == Bulk("3.5"));
  CHECK(Call(c, {"SET", "f", "10"}) == kOK);
  CHECK(Call(c, {"INCRBYFLOAT", "f", "0.5"}) == Bulk("10.5"));
  CHECK(Call(c, {"INCRBYFLOAT", "f", "-0.5"}) == Bulk("10"));
  CHECK(Call(c, {"INCRBYFLOAT", "f", "-10"}) == Bulk("0"));
  CHECK(Call(c, {"SET", "f", "5.0e3"}) == kOK);
  CHECK(Call(c, {"INCRBYFLOAT", "f", "200"}) == Bulk("5200"));
  CHECK(Call(c, {"SET", "f", "0"}) == kOK);
  CHECK(Call(c, {"INCRBYFLOAT", "f", "5.0e3"}) == Bulk("5000"));
  CHECK(Call(c, {"SET", "f", "1.5"}) == kOK);
  CHECK(Call(c, {"INCRBYFLOAT", "f", "1.5"}) == Bulk("3"));
  CHECK(Call(c, {"INCRBYFLOAT", "f", "-4.25"}) == Bulk("-1.25"));
  CHECK(Call(c, {"GET", "f"}) == Bulk("-1.25"));
  CHECK(Call(c, {"INCRBYFLOAT", "i", "1"}) == Bulk("1"));
  CHECK(Call(c, {"INCR", "i"}) == Int(2));  // integral result stays an integer string
}

TEST_CASE("INCRBYFLOAT rejects non-floats, NaN and infinity") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"SET", "f", "abc"}) == kOK);
  CHECK(Call(c, {"INCRBYFLOAT", "f", "1"}) == kNotFloat);
  CHECK(Call(c, {"SET", "f", "1"}) == kOK);
  CHECK(Call(c, {"INCRBYFLOAT", "f", "abc"}) == kNotFloat);
  CHECK(Call(c, {"INCRBYFLOAT", "f", ""}) == kNotFloat);
  const Reply nan_inf = Error("ERR increment would produce NaN or Infinity");
  CHECK(Call(c, {"INCRBYFLOAT", "f", "inf"}) == nan_inf);
  CHECK(Call(c, {"INCRBYFLOAT", "f", "-inf"}) == nan_inf);
  CHECK(Call(c, {"GET", "f"}) == Bulk("1"));
}

TEST_CASE("binary keys and values with NUL and CRLF round trip (hiredis %b)") {
  Conn c = ConnectFlushed(Server());
  const std::string key("k\0e\r\ny", 6);
  std::string value;
  for (int i = 0; i < 256; ++i) value.push_back(static_cast<char>(i));
  value += std::string("\r\n\0\r\n", 5);
  auto* r = static_cast<redisReply*>(
      redisCommand(c.get(), "SET %b %b", key.data(), key.size(), value.data(), value.size()));
  CHECK(FromHiredis(r, c.get()) == kOK);
  if (r) freeReplyObject(r);
  r = static_cast<redisReply*>(redisCommand(c.get(), "GET %b", key.data(), key.size()));
  CHECK(FromHiredis(r, c.get()) == Bulk(value));
  if (r) freeReplyObject(r);
  CHECK(Call(c, {"STRLEN", key}) == Int(static_cast<long long>(value.size())));
  CHECK(Call(c, {"EXISTS", std::string("k\0e", 3)}) == Int(0));
  CHECK(Call(c, {"APPEND", key, std::string("\0", 1)}) ==
        Int(static_cast<long long>(value.size() + 1)));
  CHECK(Call(c, {"KEYS", "*"}) == BulkArray({key}));
  CHECK(Call(c, {"SET", std::string("\0", 1), ""}) == kOK);
  CHECK(Call(c, {"GET", std::string("\0", 1)}) == Bulk(""));
}

TEST_CASE("1 MiB values round trip") {
  Conn c = ConnectFlushed(Server());
  std::string value(1 << 20, '\0');
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>('a' + (i * 7919) % 26);
  CHECK(Call(c, {"SET", "big", value}) == kOK);
  CHECK(Call(c, {"GET", "big"}) == Bulk(value));
  CHECK(Call(c, {"STRLEN", "big"}) == Int(1 << 20));
  CHECK(Call(c, {"MSET", "big2", value, "small", "x"}) == kOK);
  CHECK(Call(c, {"MGET", "big2", "small"}) == Array({Bulk(value), Bulk("x")}));
}

TEST_CASE("strings: the shared server exits with status 0 on SIGTERM") {
  auto status = StopSharedServer(kServer);
  if (status) CHECK_MESSAGE((status->exited && status->code == 0), status->ToString());
}
