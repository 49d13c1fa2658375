#include "resp/parser.h"

#include <cstdio>
#include <cstring>

#include "util/split_args.h"
#include "util/strings.h"

namespace kv::resp {
namespace {

// Finds "\r\n" starting at p; returns the position of '\r' or nullptr.
inline const char* FindCrlf(const char* p, const char* end) {
  while (p < end) {
    const char* cr = static_cast<const char*>(memchr(p, '\r', static_cast<size_t>(end - p)));
    if (cr == nullptr || cr + 1 >= end) return nullptr;
    if (cr[1] == '\n') return cr;
    p = cr + 1;
  }
  return nullptr;
}

// Parses the decimal header number between p and cr. Fast path for the
// common small positive lengths; falls back to the strict parser.
inline bool ParseHeaderNumber(const char* p, const char* cr, int64_t* out) {
  size_t n = static_cast<size_t>(cr - p);
  if (n > 0 && n < 10 && p[0] >= '1' && p[0] <= '9') {
    int64_t v = 0;
    for (const char* q = p; q < cr; q++) {
      unsigned d = static_cast<unsigned>(*q - '0');
      if (d > 9) return false;
      v = v * 10 + d;
    }
    *out = v;
    return true;
  }
  return util::ParseInt64(std::string_view(p, n), out);
}

// Reads "<prefix><1-9 digits>\r\n" at *p and advances past it. Longer
// numbers are left to Parse: PeekKeys just stops.
inline bool PeekHeader(const char** p, const char* end, char prefix, int64_t* n) {
  const char* q = *p;
  if (q >= end || *q != prefix) return false;
  const char* const digits = ++q;
  const char* const stop = end - digits > 9 ? digits + 9 : end;
  int64_t v = 0;
  unsigned d;
  while (q < stop && (d = static_cast<unsigned>(*q - '0')) <= 9) {
    v = v * 10 + d;
    q++;
  }
  if (q == digits || end - q < 2 || q[0] != '\r' || q[1] != '\n') return false;
  *n = v;
  *p = q + 2;
  return true;
}

}  // namespace

size_t PeekKeys(const char* data, size_t len, std::string_view* keys, size_t max) {
  const char* p = data;
  const char* const end = data + len;
  size_t found = 0;
  while (found < max) {
    int64_t argc = 0;
    if (!PeekHeader(&p, end, '*', &argc) || argc < 2) break;
    for (int64_t i = 0; i < argc; i++) {
      int64_t bulk = 0;
      if (!PeekHeader(&p, end, '$', &bulk) || end - p < bulk + 2 || p[bulk] != '\r' ||
          p[bulk + 1] != '\n') {
        return found;
      }
      if (i == 1) keys[found] = std::string_view(p, static_cast<size_t>(bulk));
      p += bulk + 2;
    }
    found++;
  }
  return found;
}

ParseStatus RespParser::Fail(const char* message) {
  error_ = message;
  return ParseStatus::kError;
}

ParseStatus RespParser::Parse(const char* data, size_t len, bool authenticated, size_t* consumed,
                              std::vector<std::string_view>* argv) {
  bytes_needed_ = 0;
  argv->clear();
  if (len == 0) return ParseStatus::kNeedMore;
  if (data[0] == '*') return ParseMultibulk(data, len, authenticated, consumed, argv);
  return ParseInline(data, len, consumed, argv);
}

ParseStatus RespParser::ParseMultibulk(const char* data, size_t len, bool authenticated,
                                       size_t* consumed, std::vector<std::string_view>* argv) {
  const char* end = data + len;
  const char* cr = FindCrlf(data + 1, end);
  if (cr == nullptr) {
    if (len > limits_->max_inline_len) {
      return Fail("Protocol error: too big mbulk count string");
    }
    return ParseStatus::kNeedMore;
  }
  int64_t count;
  if (!ParseHeaderNumber(data + 1, cr, &count) || count > limits_->max_multibulk_len) {
    return Fail("Protocol error: invalid multibulk length");
  }
  if (!authenticated && count > limits_->unauthenticated_max_multibulk_len) {
    return Fail("Protocol error: unauthenticated multibulk length");
  }
  const char* p = cr + 2;
  if (count <= 0) {
    *consumed = static_cast<size_t>(p - data);
    return ParseStatus::kCommand;
  }
  if (argv->capacity() < static_cast<size_t>(count) && count <= 1024) {
    argv->reserve(static_cast<size_t>(count));
  }
  const int64_t max_bulk =
      authenticated ? limits_->max_bulk_len : limits_->unauthenticated_max_bulk_len;
  for (int64_t i = 0; i < count; i++) {
    if (p >= end) return ParseStatus::kNeedMore;
    if (*p != '$') {
      char msg[64];
      snprintf(msg, sizeof(msg), "Protocol error: expected '$', got '%c'", *p);
      error_ = msg;
      return ParseStatus::kError;
    }
    cr = FindCrlf(p + 1, end);
    if (cr == nullptr) {
      if (static_cast<size_t>(end - p) > limits_->max_inline_len) {
        return Fail("Protocol error: too big bulk count string");
      }
      return ParseStatus::kNeedMore;
    }
    int64_t blen;
    if (!ParseHeaderNumber(p + 1, cr, &blen) || blen < 0 || blen > limits_->max_bulk_len) {
      return Fail("Protocol error: invalid bulk length");
    }
    if (blen > max_bulk) return Fail("Protocol error: unauthenticated bulk length");
    const char* body = cr + 2;
    size_t ulen = static_cast<size_t>(blen);
    if (static_cast<size_t>(end - body) < ulen + 2) {
      // Everything before this bulk is parsed; the rest of the command is
      // at least this bulk plus one byte per remaining argument header.
      bytes_needed_ = static_cast<size_t>(body - data) + ulen + 2;
      return ParseStatus::kNeedMore;
    }
    if (body[ulen] != '\r' || body[ulen + 1] != '\n') {
      return Fail("Protocol error: expected CRLF after bulk string");
    }
    argv->emplace_back(body, ulen);
    p = body + ulen + 2;
  }
  *consumed = static_cast<size_t>(p - data);
  return ParseStatus::kCommand;
}

ParseStatus RespParser::ParseInline(const char* data, size_t len, size_t* consumed,
                                    std::vector<std::string_view>* argv) {
  const char* nl = static_cast<const char*>(memchr(data, '\n', len));
  if (nl == nullptr) {
    if (len > limits_->max_inline_len) return Fail("Protocol error: too big inline request");
    return ParseStatus::kNeedMore;
  }
  size_t line_len = static_cast<size_t>(nl - data);
  if (line_len > limits_->max_inline_len) return Fail("Protocol error: too big inline request");
  if (line_len > 0 && data[line_len - 1] == '\r') line_len--;
  if (!util::SplitArgs(std::string_view(data, line_len), &inline_args_)) {
    return Fail("Protocol error: unbalanced quotes in request");
  }
  for (const std::string& a : inline_args_) argv->emplace_back(a);
  *consumed = static_cast<size_t>(nl - data) + 1;
  return ParseStatus::kCommand;
}

}  // namespace kv::resp
