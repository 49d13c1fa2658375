#include "helpers/raw_connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace kv::test {

namespace {

using Clock = std::chrono::steady_clock;

// Parses the line starting at `pos` (without its CRLF). Returns the position
// after the CRLF, or npos if the line is not complete yet.
size_t ReadLine(std::string_view buf, size_t pos, std::string_view* line) {
  size_t end = buf.find("\r\n", pos);
  if (end == std::string_view::npos) return std::string_view::npos;
  *line = buf.substr(pos, end - pos);
  return end + 2;
}

bool ParseLL(std::string_view s, long long* v) {
  if (s.empty() || s.size() > 20) return false;
  std::string tmp(s);
  char* end = nullptr;
  errno = 0;
  *v = std::strtoll(tmp.c_str(), &end, 10);
  return errno == 0 && end == tmp.c_str() + tmp.size();
}

// Returns bytes used (>0), 0 for incomplete, -1 for a protocol error.
long ParseAt(std::string_view buf, size_t pos, Reply* out) {
  if (pos >= buf.size()) return 0;
  const char type = buf[pos];
  std::string_view line;
  size_t next = ReadLine(buf, pos + 1, &line);
  if (next == std::string_view::npos) return 0;
  auto fail = [&](const std::string& why) {
    out->type = Reply::Type::kIoError;
    out->str = "bad RESP: " + why;
    return -1L;
  };
  long long n = 0;
  switch (type) {
    case '+':
      *out = Status(std::string(line));
      return static_cast<long>(next - pos);
    case '-':
      *out = Error(std::string(line));
      return static_cast<long>(next - pos);
    case ':':
      if (!ParseLL(line, &n)) return fail("integer '" + std::string(line) + "'");
      *out = Int(n);
      return static_cast<long>(next - pos);
    case '_':
      *out = Reply{};
      out->type = Reply::Type::kNull;
      return static_cast<long>(next - pos);
    case ',':
    case '(':
      *out = Reply{};
      out->type = type == ',' ? Reply::Type::kDouble : Reply::Type::kBigNumber;
      out->str = std::string(line);
      return static_cast<long>(next - pos);
    case '#':
      if (line != "t" && line != "f") return fail("bool '" + std::string(line) + "'");
      *out = Reply{};
      out->type = Reply::Type::kBool;
      out->integer = line == "t";
      return static_cast<long>(next - pos);
    case '$':
    case '=':
    case '!': {
      if (!ParseLL(line, &n)) return fail("bulk length '" + std::string(line) + "'");
      if (n == -1 && type == '$') {
        *out = Nil();
        return static_cast<long>(next - pos);
      }
      if (n < 0) return fail("negative bulk length");
      if (buf.size() < next + static_cast<size_t>(n) + 2) return 0;
      if (buf.substr(next + static_cast<size_t>(n), 2) != "\r\n") {
        return fail("bulk not followed by CRLF");
      }
      std::string body(buf.substr(next, static_cast<size_t>(n)));
      if (type == '$') {
        *out = Bulk(std::move(body));
      } else if (type == '!') {
        *out = Error(std::move(body));
      } else {
        *out = Reply{};
        out->type = Reply::Type::kVerbatim;
        out->str = std::move(body);
      }
      return static_cast<long>(next + static_cast<size_t>(n) + 2 - pos);
    }
    case '*':
    case '%':
    case '~':
    case '>':
    case '|': {
      if (!ParseLL(line, &n)) return fail("aggregate length '" + std::string(line) + "'");
      if (n == -1 && type == '*') {
        *out = Nil();
        return static_cast<long>(next - pos);
      }
      if (n < 0) return fail("negative aggregate length");
      long long count = (type == '%' || type == '|') ? 2 * n : n;
      Reply agg;
      agg.type = type == '*'   ? Reply::Type::kArray
                 : type == '%' ? Reply::Type::kMap
                 : type == '~' ? Reply::Type::kSet
                 : type == '>' ? Reply::Type::kPush
                               : Reply::Type::kMap;
      size_t at = next;
      for (long long i = 0; i < count; ++i) {
        Reply child;
        long used = ParseAt(buf, at, &child);
        if (used <= 0) {
          if (used < 0) *out = child;
          return used;
        }
        at += static_cast<size_t>(used);
        agg.elements.push_back(std::move(child));
      }
      if (type == '|') {
        // An attribute precedes the real reply; tests do not look at it.
        Reply real;
        long used = ParseAt(buf, at, &real);
        if (used <= 0) {
          if (used < 0) *out = real;
          return used;
        }
        *out = std::move(real);
        return static_cast<long>(at + static_cast<size_t>(used) - pos);
      }
      *out = std::move(agg);
      return static_cast<long>(at - pos);
    }
    default:
      return fail(std::string("type byte '") + type + "'");
  }
}

}  // namespace

long ParseReply(std::string_view buf, Reply* out) { return ParseAt(buf, 0, out); }

std::string EncodeCommand(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) {
    out += "$" + std::to_string(a.size()) + "\r\n";
    out += a;
    out += "\r\n";
  }
  return out;
}

RawConnection::RawConnection(int port) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  timeval tv{10, 0};
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) close(fd_);
}

bool RawConnection::Send(std::string_view bytes) {
  if (fd_ < 0 || closed_) return false;
  while (!bytes.empty()) {
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool RawConnection::Fill(std::chrono::milliseconds timeout) {
  if (fd_ < 0 || closed_) return false;
  pollfd p{fd_, POLLIN, 0};
  int r = poll(&p, 1, static_cast<int>(timeout.count()));
  if (r <= 0) return false;
  char chunk[65536];
  ssize_t n = recv(fd_, chunk, sizeof(chunk), MSG_DONTWAIT);
  if (n > 0) {
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) closed_ = true;
  return n > 0;
}

Reply RawConnection::Read(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    Reply r;
    long used = ParseReply(buf_, &r);
    if (used > 0) {
      buf_.erase(0, static_cast<size_t>(used));
      return r;
    }
    if (used < 0) return r;
    if (fd_ < 0) return IoError("not connected");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (closed_) return IoError("connection closed");
    if (left.count() <= 0) return IoError("timed out");
    Fill(left);
  }
}

Reply RawConnection::Call(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  if (!SendCommand(args)) return IoError("send failed");
  return Read(timeout);
}

bool RawConnection::WaitClosed(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (fd_ < 0 || closed_) return true;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() < 0) left = std::chrono::milliseconds(0);
    bool got = Fill(left);
    if (closed_) return true;
    if (!got && Clock::now() >= deadline) return false;
    if (buf_.size() > (1u << 24)) buf_.clear();  // keep memory bounded
  }
}

}  // namespace kv::test
