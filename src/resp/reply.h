// ReplyWriter: encodes replies into a connection's output buffer in RESP2
// or RESP3 (after HELLO 3). Aggregates that RESP2 lacks degrade the way
// Redis degrades them: a map becomes a flat array, a set an array, a double
// a bulk string, a boolean an integer, null a null bulk.
//
// Thread safety: not thread safe; bound to one output buffer.
#pragma once

#include <cstdint>
#include <string_view>

#include "util/buffer.h"

namespace kv::resp {

class ReplyWriter {
 public:
  ReplyWriter(util::Buffer* out, int protocol) : out_(out), protocol_(protocol) {}

  int protocol() const { return protocol_; }
  void set_protocol(int p) { protocol_ = p; }
  util::Buffer* buffer() { return out_; }
  // Writes go to `out` from now on (a client capturing one reply).
  void set_buffer(util::Buffer* out) { out_ = out; }

  void Ok() { out_->Append("+OK\r\n", 5); }
  void Simple(std::string_view s);
  // `message` is the whole error line without '-', e.g. "ERR syntax error".
  // CR and LF in it are replaced by spaces so the reply stays one line.
  void Error(std::string_view message);
  void Integer(int64_t v);
  void Bulk(std::string_view s);
  // Null bulk ($-1) in RESP2, _ in RESP3.
  void Null();
  // Null array (*-1) in RESP2, _ in RESP3.
  void NullArray();
  void ArrayHeader(size_t n);
  // n key/value pairs.
  void MapHeader(size_t n);
  void SetHeader(size_t n);
  void Double(double v);
  void Bool(bool v);
  // Human text (INFO, CLIENT LIST): a verbatim string "txt" in RESP3, a bulk
  // string in RESP2.
  void Verbatim(std::string_view s);
  // Bytes already encoded as RESP.
  void Raw(std::string_view s) { out_->Append(s); }

 private:
  void Header(char type, uint64_t n);
  util::Buffer* out_;
  int protocol_;
};

}  // namespace kv::resp
