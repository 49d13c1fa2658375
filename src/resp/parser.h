// RespParser: incremental, zero-copy parser of client requests, both RESP
// multibulk ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") and inline ("GET k\r\n").
// It consumes nothing until a whole command is present, so a caller appends
// socket bytes and calls Parse until it returns kNeedMore. Arguments point
// into the caller's buffer (multibulk) or into the parser (inline), valid
// until the next Parse call or until the buffer changes.
//
// Thread safety: one parser per connection, not thread safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kv::resp {

struct ParseLimits {
  int64_t max_bulk_len = 512LL * 1024 * 1024;  // proto-max-bulk-len
  int64_t max_multibulk_len = 1024 * 1024;     // arguments per command
  size_t max_inline_len = 64 * 1024;           // inline line, and a header line
  // Before AUTH, Redis allows only small requests so an anonymous peer
  // cannot make the server buffer 512 MB.
  int64_t unauthenticated_max_multibulk_len = 10;
  int64_t unauthenticated_max_bulk_len = 16384;
};

enum class ParseStatus { kCommand, kNeedMore, kError };

// Looks ahead over the complete multibulk commands at the start of
// data[0, len) and stores the second argument of up to `max` of them (the
// key, for GET, SET and most commands) in keys[], in order. Returns how
// many it stored. Stops at the first command that is incomplete, inline,
// has fewer than two arguments or a header it does not expect, and checks
// nothing beyond the framing: it is for prefetching a pipelined batch's
// keys, and Parse still decides what each command is. keys[] point into
// data.
size_t PeekKeys(const char* data, size_t len, std::string_view* keys, size_t max);

class RespParser {
 public:
  explicit RespParser(const ParseLimits* limits) : limits_(limits) {}

  // Parses one command from data[0, len). On kCommand sets *consumed and
  // fills *argv (possibly empty: a blank line or "*0"; the caller skips it).
  // On kNeedMore nothing is consumed. On kError, error() holds Redis's text
  // ("Protocol error: ...") and the connection should reply and close.
  ParseStatus Parse(const char* data, size_t len, bool authenticated, size_t* consumed,
                    std::vector<std::string_view>* argv);

  const std::string& error() const { return error_; }
  // After kNeedMore: the total bytes the pending command needs, if known
  // (0 if not). Lets the reader size its buffer once for a large value and
  // skip re-parsing until that much has arrived.
  size_t bytes_needed() const { return bytes_needed_; }

 private:
  ParseStatus ParseMultibulk(const char* data, size_t len, bool authenticated, size_t* consumed,
                             std::vector<std::string_view>* argv);
  ParseStatus ParseInline(const char* data, size_t len, size_t* consumed,
                          std::vector<std::string_view>* argv);
  ParseStatus Fail(const char* message);

  const ParseLimits* limits_;
  std::string error_;
  size_t bytes_needed_ = 0;
  std::vector<std::string> inline_args_;
};

}  // namespace kv::resp
