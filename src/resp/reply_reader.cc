#include "resp/reply_reader.h"

#include <cstring>

namespace kv::resp {

namespace {

constexpr int kMaxDepth = 64;

// Parses the header line at in[0]: type byte, text up to CRLF. Sets *line to
// the text and returns the length including CRLF, or 0 if incomplete.
size_t HeaderLine(std::string_view in, std::string_view* line) {
  size_t cr = in.find("\r\n", 1);
  if (cr == std::string_view::npos) return 0;
  *line = in.substr(1, cr - 1);
  return cr + 2;
}

bool ParseSigned(std::string_view s, int64_t* v) {
  if (s.empty() || s.size() > 20) return false;
  bool neg = s[0] == '-';
  size_t i = neg ? 1 : 0;
  if (i == s.size()) return false;
  int64_t r = 0;
  for (; i < s.size(); i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    if (r > (INT64_MAX - (s[i] - '0')) / 10) return false;
    r = r * 10 + (s[i] - '0');
  }
  *v = neg ? -r : r;
  return true;
}

size_t Length(std::string_view in, int depth) {
  if (in.empty() || depth > kMaxDepth) return 0;
  std::string_view line;
  size_t head = HeaderLine(in, &line);
  if (head == 0) return 0;
  int64_t n = 0;
  switch (in[0]) {
    case ':':
      return ParseSigned(line, &n) ? head : 0;
    case '+':
    case '-':
    case ',':
    case '#':
    case '_':
    case '(':
      return head;
    case '$':
    case '!':
    case '=': {
      if (!ParseSigned(line, &n)) return 0;
      if (n == -1 && in[0] == '$') return head;
      if (n < 0 || static_cast<uint64_t>(n) > in.size() - head) return 0;
      size_t end = head + static_cast<size_t>(n);
      if (in.size() - end < 2 || in[end] != '\r' || in[end + 1] != '\n') return 0;
      return end + 2;
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      if (!ParseSigned(line, &n)) return 0;
      if (n == -1 && in[0] == '*') return head;
      if (n < 0) return 0;
      uint64_t items = static_cast<uint64_t>(n);
      if (in[0] == '%' || in[0] == '|') items *= 2;
      // Every item takes at least 3 bytes: a cheap bound before the walk.
      if (items > (in.size() - head) / 3) return 0;
      size_t pos = head;
      for (uint64_t i = 0; i < items; i++) {
        size_t len = Length(in.substr(pos), depth + 1);
        if (len == 0) return 0;
        pos += len;
      }
      return pos;
    }
    default:
      return 0;
  }
}

}  // namespace

size_t ReplyLength(std::string_view in) { return Length(in, 0); }

bool ArrayElements(std::string_view reply, std::vector<std::string_view>* elements) {
  if (reply.empty() || (reply[0] != '*' && reply[0] != '~' && reply[0] != '>')) return false;
  if (ReplyLength(reply) != reply.size()) return false;
  std::string_view line;
  size_t pos = HeaderLine(reply, &line);
  int64_t n = 0;
  if (!ParseSigned(line, &n) || n < 0) return false;
  elements->clear();
  for (int64_t i = 0; i < n; i++) {
    size_t len = ReplyLength(reply.substr(pos));
    elements->push_back(reply.substr(pos, len));
    pos += len;
  }
  return true;
}

bool IntegerValue(std::string_view reply, int64_t* v) {
  if (reply.size() < 4 || reply[0] != ':' || ReplyLength(reply) != reply.size()) return false;
  return ParseSigned(reply.substr(1, reply.size() - 3), v);
}

}  // namespace kv::resp
