// Reply is a RESP2/RESP3 reply as a plain value, so tests can compare whole
// replies exactly (type and contents) and doctest prints both sides on a
// mismatch:
//
//   CHECK(Call(c, {"SET", "k", "v"}) == Status("OK"));
//   CHECK(Call(c, {"MGET", "k", "x"}) == Array({Bulk("v"), Nil()}));
//
// Call() sends one command with hiredis (binary safe, one argument per
// element) and converts the reply; an I/O error becomes a Reply of type
// kIoError carrying hiredis's message, so the check fails readably instead of
// crashing. hiredis 0.14 speaks RESP2 only: RESP3 replies are read with
// RawConnection (raw_connection.h), which produces the same Reply type.
//
// Thread safety: values; no shared state.
#pragma once

#include <hiredis/hiredis.h>

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "helpers/server_process.h"

namespace kv::test {

struct Reply {
  enum class Type {
    kStatus,     // +
    kError,      // -
    kInteger,    // :
    kBulk,       // $
    kNil,        // $-1 or *-1 (RESP2)
    kArray,      // *
    kNull,       // _ (RESP3)
    kDouble,     // ,  (str holds the text)
    kBool,       // #  (integer 0/1)
    kBigNumber,  // (  (str holds the digits)
    kVerbatim,   // =  (str holds "txt:...")
    kMap,        // %  (elements: k1, v1, k2, v2, ...)
    kSet,        // ~
    kPush,       // >
    kIoError,    // no reply: connection error or timeout (str says which)
  };

  Type type = Type::kNil;
  std::string str;
  long long integer = 0;
  std::vector<Reply> elements;

  bool is_error() const { return type == Type::kError; }
  bool is_array() const { return type == Type::kArray; }
  size_t size() const { return elements.size(); }
  const Reply& operator[](size_t i) const { return elements.at(i); }
  // For kMap (or a RESP2 flat key/value array): the value of key `k`, or
  // nullptr.
  const Reply* Find(std::string_view k) const;

  friend bool operator==(const Reply& a, const Reply& b);
};

std::ostream& operator<<(std::ostream& os, const Reply& r);
const char* TypeName(Reply::Type t);

Reply Status(std::string s);
Reply Error(std::string s);
Reply Int(long long v);
Reply Bulk(std::string s);
Reply Nil();
// No reply: what Call/RawConnection return on a connection error or timeout.
Reply IoError(std::string why);
Reply Array(std::vector<Reply> elements);
// An array of bulk strings.
Reply BulkArray(const std::vector<std::string>& items);

// Converts a hiredis reply (which may be null).
Reply FromHiredis(const redisReply* r, const redisContext* c);

// Sends one command and reads its reply.
Reply Call(redisContext* c, const std::vector<std::string>& args);
inline Reply Call(const Conn& c, const std::vector<std::string>& args) {
  return Call(c.get(), args);
}

// Connects to `server`, REQUIREs the connection is up, and FLUSHALLs, so a
// test case on a shared server starts from an empty keyspace.
Conn ConnectFlushed(const ServerProcess& server);

// The value of the integer reply to `args`, or -999999 if the reply is not an
// integer (so a CHECK on the result fails visibly).
long long CallInt(const Conn& c, const std::vector<std::string>& args);

}  // namespace kv::test
