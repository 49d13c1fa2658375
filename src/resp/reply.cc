#include "resp/reply.h"

#include <cstring>

#include "util/strings.h"

namespace kv::resp {

void ReplyWriter::Header(char type, uint64_t n) {
  char* p = out_->Reserve(24);
  p[0] = type;
  size_t len = 1;
  if (n < 10) {
    p[1] = static_cast<char>('0' + n);
    len = 2;
  } else {
    len += util::FormatUint64(n, p + 1);
  }
  p[len] = '\r';
  p[len + 1] = '\n';
  out_->Commit(len + 2);
}

void ReplyWriter::Simple(std::string_view s) {
  char* p = out_->Reserve(s.size() + 3);
  p[0] = '+';
  memcpy(p + 1, s.data(), s.size());
  p[s.size() + 1] = '\r';
  p[s.size() + 2] = '\n';
  out_->Commit(s.size() + 3);
}

void ReplyWriter::Error(std::string_view message) {
  char* p = out_->Reserve(message.size() + 3);
  p[0] = '-';
  for (size_t i = 0; i < message.size(); i++) {
    char c = message[i];
    p[i + 1] = (c == '\r' || c == '\n') ? ' ' : c;
  }
  p[message.size() + 1] = '\r';
  p[message.size() + 2] = '\n';
  out_->Commit(message.size() + 3);
}

void ReplyWriter::Integer(int64_t v) {
  char* p = out_->Reserve(24);
  p[0] = ':';
  size_t len = 1 + util::FormatInt64(v, p + 1);
  p[len] = '\r';
  p[len + 1] = '\n';
  out_->Commit(len + 2);
}

void ReplyWriter::Bulk(std::string_view s) {
  char* p = out_->Reserve(s.size() + 26);
  p[0] = '$';
  size_t len = 1 + util::FormatUint64(s.size(), p + 1);
  p[len++] = '\r';
  p[len++] = '\n';
  memcpy(p + len, s.data(), s.size());
  len += s.size();
  p[len++] = '\r';
  p[len++] = '\n';
  out_->Commit(len);
}

void ReplyWriter::Null() {
  if (protocol_ >= 3) {
    out_->Append("_\r\n", 3);
  } else {
    out_->Append("$-1\r\n", 5);
  }
}

void ReplyWriter::NullArray() {
  if (protocol_ >= 3) {
    out_->Append("_\r\n", 3);
  } else {
    out_->Append("*-1\r\n", 5);
  }
}

void ReplyWriter::ArrayHeader(size_t n) { Header('*', n); }

void ReplyWriter::MapHeader(size_t n) {
  if (protocol_ >= 3) {
    Header('%', n);
  } else {
    Header('*', n * 2);
  }
}

void ReplyWriter::SetHeader(size_t n) { Header(protocol_ >= 3 ? '~' : '*', n); }

void ReplyWriter::Double(double v) {
  std::string s = util::DoubleToString(v);
  if (protocol_ >= 3) {
    out_->Append(',');
    out_->Append(s);
    out_->Append("\r\n", 2);
  } else {
    Bulk(s);
  }
}

void ReplyWriter::Bool(bool v) {
  if (protocol_ >= 3) {
    out_->Append(v ? "#t\r\n" : "#f\r\n", 4);
  } else {
    Integer(v ? 1 : 0);
  }
}

void ReplyWriter::Verbatim(std::string_view s) {
  if (protocol_ < 3) {
    Bulk(s);
    return;
  }
  Header('=', s.size() + 4);
  out_->Append("txt:", 4);
  out_->Append(s);
  out_->Append("\r\n", 2);
}

}  // namespace kv::resp
