// RawConnection is a plain TCP client for the tests that need exact bytes on
// the wire: malformed input, inline commands, RESP3 replies (hiredis 0.14
// cannot parse them), and watching for the server closing the connection.
// It parses whatever arrives as RESP2/RESP3 into Reply values.
//
// Thread safety: none; one connection per thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "helpers/reply.h"

namespace kv::test {

// Encodes `args` as a RESP multibulk command.
std::string EncodeCommand(const std::vector<std::string>& args);

class RawConnection {
 public:
  // Connects to 127.0.0.1:`port`; ok() says whether it worked.
  explicit RawConnection(int port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool ok() const { return fd_ >= 0; }

  // Writes all of `bytes`. False if the connection is closed or broken (a
  // server may close while we are still writing; that is not a test error).
  bool Send(std::string_view bytes);
  bool SendCommand(const std::vector<std::string>& args) { return Send(EncodeCommand(args)); }

  // Reads one whole reply, waiting up to `timeout`. kIoError if none arrived
  // in time or the connection closed first (str says which).
  Reply Read(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // SendCommand + Read.
  Reply Call(const std::vector<std::string>& args,
             std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Waits up to `timeout` for the server to close the connection (EOF or
  // reset), discarding anything else that arrives. True if it closed.
  bool WaitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // True if the peer has closed (EOF/reset already seen or pending now)
  // without waiting.
  bool ClosedNow() { return WaitClosed(std::chrono::milliseconds(0)); }

  // Bytes received and not yet parsed into a reply.
  const std::string& pending() const { return buf_; }

 private:
  // Reads what is available within `timeout` into buf_. False on timeout;
  // sets closed_ on EOF/reset.
  bool Fill(std::chrono::milliseconds timeout);

  int fd_ = -1;
  bool closed_ = false;
  std::string buf_;
};

// Parses one reply from the front of `buf`. Returns the number of bytes it
// used, 0 if `buf` does not yet hold a whole reply, or -1 if the bytes are not
// RESP (then *out is a kIoError saying why).
long ParseReply(std::string_view buf, Reply* out);

}  // namespace kv::test
