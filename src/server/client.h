// Client: the server-side state of one connection: protocol version, auth,
// name, the MULTI queue, and the reply writer bound to its output buffer.
//
// Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "net/connection.h"
#include "resp/parser.h"
#include "resp/reply.h"

namespace kv::server {

struct Command;

class Client {
 public:
  Client(uint64_t id, net::Connection* conn, const resp::ParseLimits* limits, int64_t now_ms)
      : id_(id),
        conn_(conn),
        parser_(limits),
        reply_(&conn->output(), 2),
        created_ms_(now_ms),
        peer_(conn->PeerAddress()),
        local_(conn->LocalAddress()) {
    last_interaction_ms = now_ms;
  }
  // A client with no connection, for running one command on behalf of
  // another node (a forwarded command): replies go to *out. Authenticated
  // (the bus link was); conn() is null.
  Client(uint64_t id, util::Buffer* out, const resp::ParseLimits* limits, int protocol,
         std::string peer, int64_t now_ms)
      : id_(id),
        conn_(nullptr),
        parser_(limits),
        reply_(out, protocol),
        created_ms_(now_ms),
        peer_(std::move(peer)) {
    authenticated = true;
    last_interaction_ms = now_ms;
  }

  uint64_t id() const { return id_; }
  // Null for a client running a forwarded command.
  net::Connection* conn() { return conn_; }
  resp::RespParser& parser() { return parser_; }
  resp::ReplyWriter& reply() { return reply_; }
  std::vector<std::string_view>& argv() { return argv_; }

  int protocol() const { return reply_.protocol(); }
  void set_protocol(int p) { reply_.set_protocol(p); }

  bool authenticated = false;
  std::string name;
  std::string lib_name;
  std::string lib_ver;
  bool readonly = false;

  // MULTI state: queued commands (copied out of the input buffer) and
  // whether one failed to queue (EXEC then aborts).
  bool in_multi = false;
  bool multi_error = false;
  std::vector<std::vector<std::string>> multi_queue;

  // Set when the client is on the server's flush list this iteration.
  bool pending_flush = false;
  // Stop processing input (QUIT, protocol error, KILL): set before the
  // connection is asked to close.
  bool close_requested = false;
  // Input processing paused by back-pressure.
  bool paused = false;
  // Waiting for other nodes to answer a forwarded command: no further
  // input is processed until its reply is in, so replies keep their order.
  bool awaiting = false;
  // Replies in order while forwarded commands are in flight (pipelining
  // through a node that owns few of the keys): one slot per command since
  // the oldest unanswered forward, filled when its answer comes; the
  // ready ones at the front go to the connection.
  struct ReplySlot {
    uint64_t seq = 0;
    bool ready = false;
    std::string bytes;
  };
  std::deque<ReplySlot> slots;
  uint64_t next_slot_seq = 1;
  // Input stopped until every slot is answered (a command that must not
  // overtake them, saved in `deferred`, or too many in flight).
  bool draining = false;
  std::vector<std::string> deferred;
  // Where a local command's reply goes while slots are open.
  util::Buffer capture;
  // EXEC is running its queue: commands must run here, synchronously.
  bool in_exec = false;
  // Runs every command here, never forwarding (a command another node
  // forwarded to this one).
  bool execute_locally = false;

  int64_t created_ms() const { return created_ms_; }
  int64_t last_interaction_ms = 0;
  int64_t soft_limit_since_ms = 0;
  const char* last_command = "NULL";
  const std::string& peer() const { return peer_; }
  const std::string& local() const { return local_; }

 private:
  uint64_t id_;
  net::Connection* conn_;
  resp::RespParser parser_;
  resp::ReplyWriter reply_;
  std::vector<std::string_view> argv_;
  int64_t created_ms_;
  std::string peer_;
  std::string local_;
};

}  // namespace kv::server
