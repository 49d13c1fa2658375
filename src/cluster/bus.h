// Bus: the cluster bus transport. Authenticated TCP links to the other
// nodes, carrying the frames of cluster/PROTOCOL.md: it listens on the bus
// port, keeps an outbound link to every member it is told about (reconnecting
// with exponential backoff), runs the cluster-secret handshake on every link
// (cluster/handshake.h), and correlates requests with their responses, with a
// timeout per request. What the frames mean is the caller's business: every
// authenticated frame that is not a response goes to the Handler.
//
// Links: each node dials each member it knows, so a pair of nodes that both
// know each other normally has two links, one dialled by each side. Both are
// kept and either may carry traffic (Send prefers the link this node dialled,
// then any inbound one from that node); there is no tie-break to get wrong
// when both sides dial at once. A response always goes back on the link its
// request came on.
//
// Failures are reported, never fatal: a refused handshake, a corrupt frame
// or an I/O error closes that link only, with one log line naming the peer's
// address and the reason. Nothing here blocks the loop: hostnames other than
// "localhost" are refused (give numeric addresses; resolving would block or
// need a thread).
//
// Thread safety: loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cluster/frame.h"
#include "cluster/handshake.h"
#include "net/connection.h"
#include "net/listener.h"
#include "net/loop.h"
#include "util/random.h"
#include "util/status.h"

namespace kv::cluster {

using util::Result;

struct BusOptions {
  // This node's side of every handshake: node id, cluster name, announced
  // host/port, bus_port (the port to listen on; 0 = let the OS choose, then
  // Bus::bus_port() says which, and HELLO announces it), cluster-secret.
  HandshakeConfig self;
  // Addresses to listen on, as the server's `bind` ("127.0.0.1", "::1",
  // "*", "-::1" optional).
  std::vector<std::string> bind = {"127.0.0.1"};
  // Largest frame payload accepted once a link is authenticated (before:
  // kHandshakeMaxPayload).
  uint32_t max_payload = 64u << 20;
  // A link not authenticated within this time is closed.
  int handshake_timeout_ms = 2000;
  // Outbound links are redialled after a failure or loss: the n-th retry in
  // a row waits a random time in [d/2, d], d = min(max, min * 2^(n-1)).
  int reconnect_min_ms = 100;
  int reconnect_max_ms = 5000;
  // Output queued on one link beyond which Send fails and Request fails with
  // Busy, and the link stops reading (it answers requests) until it drains.
  size_t max_link_output = 64u << 20;
  // One line per link state change and per refusal ("bus: ..."). Empty:
  // util::Log at notice level.
  std::function<void(const std::string&)> log;
  // Seed for the backoff jitter; 0 = from the OS. Nonces always come from
  // the OS (getrandom), fresh per link.
  uint64_t seed = 0;
};

struct BusStats {
  uint64_t links_up = 0;  // authenticated links now
  uint64_t links_connecting = 0;
  uint64_t frames_in = 0, frames_out = 0;  // after authentication
  uint64_t bytes_in = 0, bytes_out = 0;    // on closed and open links' sockets
  uint64_t handshake_refusals = 0;         // either side refused (incl. timeouts)
  uint64_t corrupt_frames = 0;             // links closed for a bad frame
  uint64_t requests_pending = 0;
  uint64_t request_timeouts = 0;
  uint64_t reconnects = 0;  // outbound dials after the first
};

class Bus {
 public:
  // Answers one request: (type, payload) goes back as a response frame with
  // the request's id, on the link the request came on (dropped if that link
  // is gone by then). Call exactly once; it may be kept and called later.
  using Responder = std::function<void(FrameType type, std::string_view payload)>;
  // Every authenticated frame that is not a response, of a type this build
  // knows (FrameType), except PING (the bus answers PONG) and the handshake
  // types. A request of a type this build does not know is answered ERROR
  // kUnknownType by the bus; such a one-way frame is dropped. `reply` is set
  // for requests (request_id != 0), empty for one-way frames; a known type
  // the handler does not serve is its to answer (ReplyError).
  // `frame.payload` is valid only during the call. The handler may call any
  // Bus method, Close() included, but must not destroy the Bus.
  using Handler = std::function<void(uint64_t peer_id, const FrameView& frame, Responder reply)>;
  // A request's outcome, called exactly once, never from inside the call to
  // Request: OK with the response frame (an ERROR response arrives as a
  // frame of type kError; see DecodeError), or IOError on timeout ("timed
  // out"), link loss, no link to the peer, or Close(); Busy when the link's
  // output is backed up. `response` is valid only during the call.
  using RequestCallback = std::function<void(util::Status status, const FrameView* response)>;

  // `loop` must outlive the Bus.
  Bus(uv_loop_t* loop, BusOptions options, Handler on_frame);
  // Closes everything (as Close()).
  ~Bus();
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  // Listens on options.bind at options.self.bus_port. IOError naming the
  // address if a required bind fails.
  [[nodiscard]] util::Status Start();
  // Stops listening, closes every link and cancels reconnects. Pending
  // requests and Meets complete now, inside this call, with IOError "bus
  // closed". Later Requests complete at once with the same error. Idempotent.
  void Close();

  // Keeps an outbound link to member `id` at host:bus_port, redialled with
  // backoff while the member is known. The peer must answer with this id.
  // Replaces the address of a known member (and redials if it changed).
  void AddPeer(uint64_t id, const std::string& host, uint16_t bus_port);
  // Forgets the member and closes the link this node dialled to it (an
  // inbound link from it stays until that node closes it).
  void RemovePeer(uint64_t id);
  // Dials an address whose node id is unknown (CLUSTER MEET). On success the
  // peer is added (AddPeer) and `done` gets its id; on failure (connect,
  // refused handshake, timeout) the reason. Exactly one call, never from
  // inside Meet.
  void Meet(const std::string& host, uint16_t bus_port,
            std::function<void(Result<uint64_t> peer_id)> done);

  // One-way frame (request id 0). False, with nothing sent, if there is no
  // authenticated link to `peer` now or its output is backed up.
  bool Send(uint64_t peer, FrameType type, std::string_view payload);
  // Sends a request and calls `done` exactly once (see RequestCallback).
  // timeout_ms <= 0: no timeout (the link's loss still completes it).
  void Request(uint64_t peer, FrameType type, std::string_view payload, int timeout_ms,
               RequestCallback done);

  // True if an authenticated link to `peer` is up (either direction).
  bool Connected(uint64_t peer) const;
  // The port actually listened on (options.self.bus_port, or the OS's
  // choice when that was 0). 0 before Start.
  uint16_t bus_port() const { return options_.self.bus_port; }
  uint64_t node_id() const { return options_.self.node_id; }
  BusStats stats() const;
  // The client port `peer` announced in its last handshake (0: none yet).
  uint16_t PeerClientPort(uint64_t peer) const;

  // Helpers for handlers: answer with ERROR {code, message}; decode an
  // ERROR response. Corruption if `frame` is not a well-formed ERROR.
  static void ReplyError(const Responder& reply, ErrorCode code, std::string_view message);
  [[nodiscard]] static util::Status DecodeError(const FrameView& frame, ErrorMsg* error);

 private:
  struct Link;
  struct Peer;
  struct Pending;
  class ConnHandler;
  using MeetCallback = std::function<void(Result<uint64_t>)>;

  void Log(const std::string& line);
  void OnAccept(net::Connection* conn);
  void Dial(uint64_t peer_id);
  Link* DialAddress(const std::string& host, uint16_t bus_port, uint64_t expected_id,
                    util::Status* error);
  Link* NewLink(net::Connection* conn, bool outbound, uint64_t expected_id);
  void StartHandshake(Link* link);
  void ScheduleReconnect(Peer* peer, const std::string& reason, bool log);
  Link* Find(uint64_t serial) const;
  Link* LinkFor(uint64_t peer) const;
  void CloseLink(Link* link, std::string reason);

  // Connection events, routed by ConnHandler.
  void OnConnected(uint64_t serial, util::Status status);
  void OnReadable(net::Connection* conn);
  void OnDrained(net::Connection* conn);
  void OnClosed(net::Connection* conn);
  void OnAuthenticated(Link* link);
  // Handles the authenticated frames in the link's input.
  void ReadFrames(uint64_t serial);
  Responder MakeResponder(uint64_t serial, uint64_t request_id);
  void Dispatch(Link* link, const FrameView& frame);
  void WriteFrame(Link* link, uint8_t type, uint16_t flags, uint64_t request_id,
                  std::string_view payload);

  void AddPending(uint64_t request_id, Pending pending);
  void ArmTimer();
  void OnTimer();
  void FailLinkRequests(uint64_t serial, const std::string& why);

  uv_loop_t* loop_;
  BusOptions options_;
  Handler on_frame_;
  util::Random random_;
  std::unique_ptr<ConnHandler> conn_handler_;
  std::unique_ptr<net::Listener> listener_;
  std::unique_ptr<net::Timer> timer_;  // request deadlines
  bool closed_ = false;
  // Lets a Responder held past the Bus's life notice.
  std::shared_ptr<Bus*> self_ref_;

  uint64_t next_serial_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Link>> links_;  // by serial
  std::unordered_map<uint64_t, std::unique_ptr<Peer>> peers_;  // by node id
  // Authenticated links by peer node id (serials, in the order they came up).
  std::unordered_map<uint64_t, std::vector<uint64_t>> up_;
  // Links with frames written this iteration, flushed before the loop
  // blocks (FlushDirty).
  std::vector<uint64_t> dirty_;
  std::unique_ptr<net::PrepareHook> flush_hook_;
  void MarkDirty(Link* link);
  void FlushDirty();
  // Client ports announced in handshakes, by node id.
  std::unordered_map<uint64_t, uint16_t> client_ports_;
  uint64_t reading_serial_ = 0;  // link whose input is being handled (flushed after)

  uint64_t next_request_id_ = 1;
  std::unordered_map<uint64_t, Pending> pending_;      // by request id
  std::set<std::pair<uint64_t, uint64_t>> deadlines_;  // (due ms, request id)
  uint64_t timer_due_ = 0;                             // when timer_ fires; 0 = idle

  BusStats stats_;
};

}  // namespace kv::cluster
