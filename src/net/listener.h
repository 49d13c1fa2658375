// Listener: TCP listening sockets on a list of addresses and one port. Each
// accepted socket becomes a Connection handed to the accept callback, which
// decides whether to keep it (set a handler, start reading) or close it.
//
// Thread safety: loop thread only.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/connection.h"
#include "util/status.h"

namespace kv::net {

class Listener {
 public:
  using AcceptCallback = std::function<void(Connection*)>;

  Listener(uv_loop_t* loop, AcceptCallback on_accept);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Binds and listens on every address ("127.0.0.1", "::1", "*" for all
  // IPv4, "::" for all IPv6; a leading '-' marks an optional address whose
  // failure is not an error, as in redis.conf). IOError naming the address
  // if a required bind fails.
  [[nodiscard]] util::Status Listen(const std::vector<std::string>& addresses, int port,
                                    int backlog);
  // The port the first listening socket is bound to (the one the OS chose
  // when Listen was given port 0); 0 if not listening.
  int BoundPort() const;
  // Stops accepting; handles are freed by the loop.
  void Close();

 private:
  static void OnConnection(uv_stream_t* server, int status);
  uv_loop_t* loop_;
  AcceptCallback on_accept_;
  std::vector<uv_tcp_t*> sockets_;
};

}  // namespace kv::net
