// Connection: one TCP socket on the event loop (accepted, or dialled with
// Connect for cluster bus links), with an input
// buffer the protocol layer parses in place and an output buffer replies are
// appended to. Output goes out with one write per loop iteration (the owner
// calls Flush from a check handle): uv_try_write first, and only what the
// kernel did not take is handed to uv_write, from a second buffer so new
// replies can keep accumulating meanwhile.
//
// Lifetime: created by Listener (or Connect), freed only in libuv's close callback (after
// Handler::OnClosed), so a Connection stays valid for the rest of the
// callback that called Close().
//
// Thread safety: loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>

#include "util/buffer.h"
#include "util/status.h"

namespace kv::net {

class Connection {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // New bytes were appended to input().
    virtual void OnReadable(Connection* conn) = 0;
    // A queued write completed. Output appended since is still queued: the
    // owner calls Flush when it may go out; it may also resume reading.
    virtual void OnDrained(Connection* conn) = 0;
    // The peer closed, an I/O error happened, or Close() was called. The
    // Connection is freed right after this returns.
    virtual void OnClosed(Connection* conn) = 0;
  };

  // Set by the Listener before reading starts.
  void set_handler(Handler* h) { handler_ = h; }
  void* user_data() const { return user_data_; }
  void set_user_data(void* p) { user_data_ = p; }

  util::Buffer& input() { return input_; }
  util::Buffer& output() { return output_; }
  // Bytes queued and not yet accepted by the kernel.
  size_t pending_output() const { return output_.size() + inflight_.size(); }
  bool write_in_flight() const { return write_in_flight_; }

  // Starts or stops reading from the socket (back-pressure).
  void StartReading();
  void StopReading();
  bool reading() const { return reading_; }

  // Writes as much of output() as the kernel takes now, queues the rest.
  void Flush();
  // Closes now; queued output is dropped.
  void Close();
  // Flushes what is queued, then closes (after QUIT or a protocol error).
  void CloseAfterFlush();
  bool closing() const { return closing_; }

  const std::string& peer_ip() const { return peer_ip_; }
  int peer_port() const { return peer_port_; }
  // "ip:port" as CLIENT LIST prints it.
  std::string PeerAddress() const;
  std::string LocalAddress() const;
  bool peer_is_loopback() const { return peer_is_loopback_; }
  int fd() const;

  uint64_t bytes_read() const { return bytes_read_; }
  uint64_t bytes_written() const { return bytes_written_; }

  // Called by Listener: takes the accepted client from `server`. Returns
  // nullptr (and closes what it made) on failure.
  static Connection* Accept(uv_stream_t* server);

  // Runs once when a Connect attempt ends. OK: `conn` is connected; start
  // reading. An error (refused, unreachable, ...): `conn` is already
  // closing and its handler's OnClosed follows; do not use it after that.
  using ConnectCallback = std::function<void(Connection* conn, util::Status status)>;
  // Dials `ip`:`port`. `ip` must be a numeric IPv4 or IPv6 address (name
  // resolution is the caller's business: it may block). Returns the
  // Connection, not connected yet, with `handler` set; peer_ip()/peer_port()
  // are the dialled address. On an immediate failure (bad address, no
  // socket) returns nullptr with *error set, and `done` never runs. Close()
  // before `done` ran cancels the attempt: `done` does not run, OnClosed
  // does.
  static Connection* Connect(uv_loop_t* loop, const std::string& ip, int port, Handler* handler,
                             ConnectCallback done, util::Status* error);

 private:
  Connection() = default;
  ~Connection() = default;
  static void AllocCb(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void ReadCb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void WriteCb(uv_write_t* req, int status);
  static void CloseCb(uv_handle_t* h);
  static void ConnectCb(uv_connect_t* req, int status);
  void StartWrite();

  uv_tcp_t tcp_;
  uv_write_t write_req_;
  uv_connect_t connect_req_;
  ConnectCallback on_connect_;  // set while a Connect is in progress
  Handler* handler_ = nullptr;
  void* user_data_ = nullptr;
  util::Buffer input_;
  util::Buffer output_;
  util::Buffer inflight_;
  bool reading_ = false;
  bool write_in_flight_ = false;
  bool closing_ = false;
  bool close_after_flush_ = false;
  bool peer_is_loopback_ = false;
  std::string peer_ip_;
  int peer_port_ = 0;
  uint64_t bytes_read_ = 0;
  uint64_t bytes_written_ = 0;
};

}  // namespace kv::net
