#include "cluster/bus.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "cluster/messages.h"
#include "cluster/node_id.h"
#include "util/log.h"

namespace kv::cluster {

using util::Status;

namespace {

std::string HostPort(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

// Types this build knows that may travel on an authenticated link. The
// handshake types are not among them: after AUTH_OK they mean nothing.
bool IsBusType(uint8_t type) {
  switch (static_cast<FrameType>(type)) {
    case FrameType::kError:
    case FrameType::kPing:
    case FrameType::kPong:
    case FrameType::kGossip:
    case FrameType::kForward:
    case FrameType::kForwardReply:
    case FrameType::kTransferStep:
    case FrameType::kTransferProgress:
    case FrameType::kTransferRead:
    case FrameType::kTransferData:
    case FrameType::kTransferCommit:
    case FrameType::kTransferCommitted:
      return true;
    default:
      return false;
  }
}

Nonce FreshNonce() {
  Nonce n;
  for (size_t i = 0; i < n.size(); i += 8) {
    uint64_t r = util::OsRandom64();
    for (size_t j = 0; j < 8; j++) n[i + j] = static_cast<uint8_t>(r >> (8 * j));
  }
  return n;
}

}  // namespace

struct Bus::Link {
  uint64_t serial = 0;
  net::Connection* conn = nullptr;
  bool outbound = false;
  std::string address;       // the peer's "ip:port"
  uint64_t expected_id = 0;  // outbound to a known member: the id it must have
  uint64_t dialed_for = 0;   // the Peer this link is the outbound link of, if any
  std::unique_ptr<Handshake> handshake;
  std::unique_ptr<net::Timer> deadline;  // handshake (and connect) deadline
  bool authenticated = false;
  uint64_t peer_id = 0;  // once authenticated
  bool paused = false;   // reading stopped: output backed up
  MeetCallback meet;     // set on a Meet link until it completes
  std::string meet_host;
  uint16_t meet_port = 0;
  std::string close_reason;  // why we closed it, for the log and callbacks
};

struct Bus::Peer {
  uint64_t id = 0;
  std::string host;
  uint16_t bus_port = 0;
  uint64_t link = 0;  // serial of the outbound link (connecting or up); 0 = none
  std::unique_ptr<net::Timer> retry;
  int failures = 0;  // in a row, for the backoff
  uint64_t dials = 0;
  std::string last_error;  // logged once until it changes
};

struct Bus::Pending {
  uint64_t link = 0;  // serial the request went out on; 0 = never sent
  bool has_due = false;
  uint64_t due = 0;  // uv_now() ms
  int timeout_ms = 0;
  uint64_t peer = 0;
  Status failure;  // preset outcome of a request that could not be sent
  RequestCallback done;
};

class Bus::ConnHandler : public net::Connection::Handler {
 public:
  explicit ConnHandler(Bus* bus) : bus_(bus) {}
  void OnReadable(net::Connection* conn) override { bus_->OnReadable(conn); }
  void OnDrained(net::Connection* conn) override { bus_->OnDrained(conn); }
  void OnClosed(net::Connection* conn) override { bus_->OnClosed(conn); }

 private:
  Bus* bus_;
};

Bus::Bus(uv_loop_t* loop, BusOptions options, Handler on_frame)
    : loop_(loop),
      options_(std::move(options)),
      on_frame_(std::move(on_frame)),
      random_(options_.seed != 0 ? options_.seed : util::OsRandom64()),
      conn_handler_(std::make_unique<ConnHandler>(this)),
      self_ref_(std::make_shared<Bus*>(this)) {
  timer_ = std::make_unique<net::Timer>(loop_, [this] { OnTimer(); });
  flush_hook_ = std::make_unique<net::PrepareHook>(loop_, [this] { FlushDirty(); });
  if (options_.reconnect_min_ms < 1) options_.reconnect_min_ms = 1;
  if (options_.reconnect_max_ms < options_.reconnect_min_ms) {
    options_.reconnect_max_ms = options_.reconnect_min_ms;
  }
}

Bus::~Bus() {
  Close();
  *self_ref_ = nullptr;
}

void Bus::Log(const std::string& line) {
  if (options_.log) {
    options_.log(line);
  } else {
    KV_LOG_NOTICE("%s", line.c_str());
  }
}

Status Bus::Start() {
  if (closed_) return Status::IOError("bus closed");
  if (listener_ != nullptr) return Status::OK();
  listener_ = std::make_unique<net::Listener>(loop_, [this](net::Connection* c) { OnAccept(c); });
  int port = options_.self.bus_port;
  if (port == 0 && !options_.bind.empty()) {
    // Let the OS choose on the first address, then use that port for all.
    Status s = listener_->Listen({options_.bind[0]}, 0, 511);
    if (!s.ok()) return s;
    port = listener_->BoundPort();
    std::vector<std::string> rest(options_.bind.begin() + 1, options_.bind.end());
    if (!rest.empty()) s = listener_->Listen(rest, port, 511);
    if (!s.ok()) return s;
  } else {
    Status s = listener_->Listen(options_.bind, port, 511);
    if (!s.ok()) return s;
  }
  options_.self.bus_port = static_cast<uint16_t>(port);
  return Status::OK();
}

void Bus::Close() {
  if (closed_) return;
  closed_ = true;
  if (listener_ != nullptr) listener_->Close();
  timer_->Stop();
  peers_.clear();
  up_.clear();
  std::vector<MeetCallback> meets;
  for (auto& [serial, link] : links_) {
    if (link->meet) meets.push_back(std::move(link->meet));
    stats_.bytes_in += link->conn->bytes_read();
    stats_.bytes_out += link->conn->bytes_written();
    // Detached: the Connection frees itself; its OnClosed must not reach us.
    link->conn->set_handler(nullptr);
    link->conn->set_user_data(nullptr);
    link->conn->Close();
  }
  links_.clear();
  std::vector<RequestCallback> requests;
  for (auto& [id, p] : pending_) requests.push_back(std::move(p.done));
  pending_.clear();
  deadlines_.clear();
  Status closed = Status::IOError("bus closed");
  for (auto& cb : meets) cb(closed);
  for (auto& cb : requests) cb(closed, nullptr);
}

Bus::Link* Bus::Find(uint64_t serial) const {
  auto it = links_.find(serial);
  return it == links_.end() ? nullptr : it->second.get();
}

Bus::Link* Bus::LinkFor(uint64_t peer) const {
  auto it = up_.find(peer);
  if (it == up_.end()) return nullptr;
  Link* any = nullptr;
  for (uint64_t serial : it->second) {
    Link* l = Find(serial);
    if (l == nullptr || l->conn->closing()) continue;
    if (l->outbound) return l;
    if (any == nullptr) any = l;
  }
  return any;
}

Bus::Link* Bus::NewLink(net::Connection* conn, bool outbound, uint64_t expected_id) {
  auto link = std::make_unique<Link>();
  Link* l = link.get();
  l->serial = next_serial_++;
  l->conn = conn;
  l->outbound = outbound;
  l->address = conn->PeerAddress();
  l->expected_id = expected_id;
  conn->set_user_data(l);
  uint64_t serial = l->serial;
  l->deadline = std::make_unique<net::Timer>(loop_, [this, serial] {
    Link* late = Find(serial);
    if (late == nullptr || late->authenticated) return;
    stats_.handshake_refusals++;
    CloseLink(late, (late->handshake == nullptr ? "connect to " : "handshake with ") +
                        late->address + " timed out after " +
                        std::to_string(options_.handshake_timeout_ms) + " ms");
  });
  l->deadline->Start(static_cast<uint64_t>(std::max(1, options_.handshake_timeout_ms)), 0);
  links_.emplace(serial, std::move(link));
  return l;
}

void Bus::CloseLink(Link* link, std::string reason) {
  if (link->close_reason.empty()) link->close_reason = std::move(reason);
  link->conn->Close();
}

void Bus::StartHandshake(Link* link) {
  link->handshake = std::make_unique<Handshake>(
      link->outbound ? Handshake::Role::kInitiator : Handshake::Role::kAcceptor, options_.self,
      link->address, FreshNonce(), link->expected_id);
  std::string out;
  link->handshake->Start(&out);
  if (!out.empty()) {
    link->conn->output().Append(out);
    link->conn->Flush();
  }
}

void Bus::OnAccept(net::Connection* conn) {
  if (closed_) {
    conn->Close();
    return;
  }
  conn->set_handler(conn_handler_.get());
  Link* link = NewLink(conn, /*outbound=*/false, 0);
  StartHandshake(link);
  conn->StartReading();
}

Bus::Link* Bus::DialAddress(const std::string& host, uint16_t bus_port, uint64_t expected_id,
                            Status* error) {
  std::string ip = host;
  if (ip == "localhost") ip = "127.0.0.1";
  if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  uint64_t serial = next_serial_;  // NewLink takes this one
  net::Connection* conn = net::Connection::Connect(
      loop_, ip, bus_port, conn_handler_.get(),
      [this, serial](net::Connection*, Status s) { OnConnected(serial, std::move(s)); }, error);
  if (conn == nullptr) {
    std::string hint =
        error->IsInvalidArgument() ? " (the bus dials numeric addresses and localhost only)" : "";
    *error =
        Status::IOError("cannot dial " + HostPort(host, bus_port) + ": " + error->message() + hint);
    return nullptr;
  }
  Link* link = NewLink(conn, /*outbound=*/true, expected_id);
  KV_ASSERT(link->serial == serial);
  return link;
}

void Bus::OnConnected(uint64_t serial, Status status) {
  Link* link = Find(serial);
  if (link == nullptr) return;
  if (!status.ok()) {
    // The Connection is closing; OnClosed reports it.
    if (link->close_reason.empty()) link->close_reason = status.message();
    return;
  }
  StartHandshake(link);
  link->conn->StartReading();
}

void Bus::AddPeer(uint64_t id, const std::string& host, uint16_t bus_port) {
  if (closed_ || id == 0 || id == options_.self.node_id) return;
  auto it = peers_.find(id);
  if (it != peers_.end()) {
    Peer* p = it->second.get();
    if (p->host == host && p->bus_port == bus_port) return;
    Log("bus: node " + NodeIdHex(id) + " moved from " + HostPort(p->host, p->bus_port) + " to " +
        HostPort(host, bus_port));
    p->host = host;
    p->bus_port = bus_port;
    p->failures = 0;
    p->last_error.clear();
    p->retry->Stop();
    if (Link* old = Find(p->link); old != nullptr) {
      old->dialed_for = 0;
      CloseLink(old, "node moved to " + HostPort(host, bus_port));
    }
    p->link = 0;
    Dial(id);
    return;
  }
  auto peer = std::make_unique<Peer>();
  peer->id = id;
  peer->host = host;
  peer->bus_port = bus_port;
  peer->retry = std::make_unique<net::Timer>(loop_, [this, id] { Dial(id); });
  peers_.emplace(id, std::move(peer));
  Log("bus: added node " + NodeIdHex(id) + " at " + HostPort(host, bus_port));
  Dial(id);
}

void Bus::RemovePeer(uint64_t id) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  if (Link* l = Find(it->second->link); l != nullptr) {
    l->dialed_for = 0;
    CloseLink(l, "node " + NodeIdHex(id) + " removed");
  }
  peers_.erase(it);
  Log("bus: removed node " + NodeIdHex(id));
}

void Bus::Dial(uint64_t peer_id) {
  auto it = peers_.find(peer_id);
  if (closed_ || it == peers_.end()) return;
  Peer* p = it->second.get();
  if (p->link != 0) return;
  if (p->dials++ > 0) stats_.reconnects++;
  Status error;
  Link* link = DialAddress(p->host, p->bus_port, p->id, &error);
  if (link == nullptr) {
    ScheduleReconnect(p, error.message(), /*log=*/true);
    return;
  }
  link->dialed_for = p->id;
  p->link = link->serial;
}

void Bus::ScheduleReconnect(Peer* p, const std::string& reason, bool log) {
  p->failures++;
  uint64_t d = static_cast<uint64_t>(options_.reconnect_min_ms) << std::min(p->failures - 1, 20);
  d = std::min<uint64_t>(d, static_cast<uint64_t>(options_.reconnect_max_ms));
  uint64_t delay = d / 2 + random_.Uniform(d / 2 + 1);
  if (log && reason != p->last_error) {
    Log("bus: node " + NodeIdHex(p->id) + " at " + HostPort(p->host, p->bus_port) + ": " + reason +
        "; redialling with backoff (first in " + std::to_string(delay) + " ms)");
  }
  p->last_error = reason;
  p->retry->Start(delay, 0);
}

void Bus::Meet(const std::string& host, uint16_t bus_port,
               std::function<void(Result<uint64_t>)> done) {
  Status error;
  Link* link = closed_ ? nullptr : DialAddress(host, bus_port, 0, &error);
  if (link == nullptr) {
    if (closed_) error = Status::IOError("bus closed");
    // Never call back from inside Meet: report through the request timer.
    uint64_t id = next_request_id_++;
    Pending p;
    p.has_due = true;
    p.due = uv_now(loop_);
    p.failure = error;
    p.done = [done = std::move(done), error](Status, const FrameView*) { done(error); };
    if (closed_) {
      p.done(error, nullptr);
      return;
    }
    AddPending(id, std::move(p));
    return;
  }
  link->meet = std::move(done);
  link->meet_host = host;
  link->meet_port = bus_port;
}

void Bus::OnReadable(net::Connection* conn) {
  auto* link = static_cast<Link*>(conn->user_data());
  if (link == nullptr || conn->closing()) return;
  uint64_t serial = link->serial;
  if (!link->authenticated) {
    if (link->handshake == nullptr) return;  // cannot happen: reading starts after it
    std::string out;
    size_t used = link->handshake->Receive(conn->input().view(), &out);
    conn->input().Consume(used);
    if (!out.empty()) conn->output().Append(out);
    switch (link->handshake->state()) {
      case Handshake::State::kInProgress:
        conn->Flush();
        return;
      case Handshake::State::kRefused:
        stats_.handshake_refusals++;
        if (link->close_reason.empty()) {
          link->close_reason = "handshake failed: " + link->handshake->reason();
        }
        conn->CloseAfterFlush();  // the AUTH_FAIL, if any, goes out first
        conn->Flush();
        return;
      case Handshake::State::kAuthenticated:
        OnAuthenticated(link);  // may run a Meet callback
        link = Find(serial);
        if (link == nullptr || link->conn->closing()) return;
        break;
    }
  }
  ReadFrames(serial);
}

void Bus::OnAuthenticated(Link* link) {
  link->deadline.reset();
  link->authenticated = true;
  link->peer_id = link->handshake->peer_id();
  const uint64_t id = link->peer_id;
  client_ports_[id] = link->handshake->peer().port;
  const uint64_t serial = link->serial;
  up_[id].push_back(serial);
  Log("bus: link " + std::string(link->outbound ? "to" : "from") + " node " + NodeIdHex(id) +
      " at " + link->address + " up");
  if (link->dialed_for != 0) {
    if (auto it = peers_.find(link->dialed_for); it != peers_.end()) {
      it->second->failures = 0;
      it->second->last_error.clear();
    }
  }
  if (!link->meet) return;
  // A Meet link becomes the member's outbound link, unless it already has one
  // that is up (then this one is surplus and closed).
  MeetCallback done = std::move(link->meet);
  link->meet = nullptr;
  auto it = peers_.find(id);
  if (it == peers_.end()) {
    auto peer = std::make_unique<Peer>();
    peer->id = id;
    peer->host = link->meet_host;
    peer->bus_port = link->meet_port;
    peer->retry = std::make_unique<net::Timer>(loop_, [this, id] { Dial(id); });
    peer->link = serial;
    peer->dials = 1;
    link->dialed_for = id;
    peers_.emplace(id, std::move(peer));
    Log("bus: added node " + NodeIdHex(id) + " at " + HostPort(link->meet_host, link->meet_port) +
        " (MEET)");
  } else {
    Peer* p = it->second.get();
    Link* old = Find(p->link);
    if (old != nullptr && old->authenticated) {
      CloseLink(link, "surplus MEET link (node already linked)");
    } else {
      if (old != nullptr) {
        old->dialed_for = 0;
        CloseLink(old, "superseded by a MEET link");
      }
      p->retry->Stop();
      p->failures = 0;
      p->last_error.clear();
      p->link = serial;
      link->dialed_for = id;
    }
  }
  done(id);
}

void Bus::MarkDirty(Link* link) {
  if (reading_serial_ == link->serial) return;  // ReadFrames flushes it
  dirty_.push_back(link->serial);
  flush_hook_->Arm();
}

// Frames queued this loop iteration leave in one write per link, just
// before the loop blocks: forwarding a pipeline of N commands costs one
// syscall, not N.
void Bus::FlushDirty() {
  for (uint64_t serial : std::exchange(dirty_, {})) {
    Link* link = Find(serial);
    if (link != nullptr && !link->conn->closing()) link->conn->Flush();
  }
}

Bus::Responder Bus::MakeResponder(uint64_t serial, uint64_t request_id) {
  std::weak_ptr<Bus*> weak = self_ref_;
  return [weak, serial, request_id](FrameType type, std::string_view payload) {
    std::shared_ptr<Bus*> ref = weak.lock();
    if (ref == nullptr || *ref == nullptr) return;  // the Bus is gone
    Bus* bus = *ref;
    Link* link = bus->Find(serial);
    if (link == nullptr || link->conn->closing()) return;  // the link is gone: drop
    bus->WriteFrame(link, static_cast<uint8_t>(type), kFlagResponse, request_id, payload);
    bus->MarkDirty(link);
  };
}

void Bus::ReadFrames(uint64_t serial) {
  FrameLimits limits;
  limits.max_payload = options_.max_payload;
  reading_serial_ = serial;
  for (;;) {
    Link* link = Find(serial);
    if (link == nullptr || link->conn->closing()) break;
    util::Buffer& in = link->conn->input();
    FrameView frame;
    size_t size = 0;
    Status s = DecodeFrame(in.view(), limits, &frame, &size);
    if (!s.ok()) {
      stats_.corrupt_frames++;
      CloseLink(link, "corrupt frame: " + s.message());
      break;
    }
    if (size == 0) break;
    stats_.frames_in++;
    Dispatch(link, frame);  // frame.payload stays valid: input is not touched meanwhile
    link = Find(serial);
    if (link == nullptr) break;
    link->conn->input().Consume(size);
  }
  reading_serial_ = 0;
  Link* link = Find(serial);
  if (link == nullptr || link->conn->closing()) return;
  link->conn->Flush();
  if (link->conn->pending_output() > options_.max_link_output) {
    // Back-pressure: the peer sends requests faster than it reads answers.
    link->conn->StopReading();
    link->paused = true;
  }
}

void Bus::Dispatch(Link* link, const FrameView& frame) {
  if (frame.is_response()) {
    auto it = pending_.find(frame.request_id);
    // Unknown: timed out already (or a peer answering what it was never
    // asked); another link: not an answer to our request. Dropped.
    if (it == pending_.end() || it->second.link != link->serial) return;
    Pending p = std::move(it->second);
    pending_.erase(it);
    if (p.has_due) deadlines_.erase({p.due, frame.request_id});
    p.done(Status::OK(), &frame);
    return;
  }
  if (frame.type == static_cast<uint8_t>(FrameType::kPing)) {
    if (frame.request_id == 0) return;
    Ping ping;
    std::string out;
    if (ping.Decode(frame.payload).ok()) {
      ping.EncodeTo(&out);
      WriteFrame(link, static_cast<uint8_t>(FrameType::kPong), kFlagResponse, frame.request_id,
                 out);
    } else {
      ErrorMsg{static_cast<uint16_t>(ErrorCode::kMalformed), "bad PING payload"}.EncodeTo(&out);
      WriteFrame(link, static_cast<uint8_t>(FrameType::kError), kFlagResponse, frame.request_id,
                 out);
    }
    return;
  }
  if (!IsBusType(frame.type)) {
    if (frame.request_id == 0) return;  // unknown one-way frame: dropped
    std::string out;
    ErrorMsg{static_cast<uint16_t>(ErrorCode::kUnknownType),
             "unknown frame type " + FrameTypeName(frame.type)}
        .EncodeTo(&out);
    WriteFrame(link, static_cast<uint8_t>(FrameType::kError), kFlagResponse, frame.request_id, out);
    return;
  }
  Responder reply;
  if (frame.request_id != 0) reply = MakeResponder(link->serial, frame.request_id);
  if (on_frame_) {
    on_frame_(link->peer_id, frame, std::move(reply));
  } else if (frame.request_id != 0) {
    ReplyError(reply, ErrorCode::kNotReady, "no handler");
  }
}

void Bus::WriteFrame(Link* link, uint8_t type, uint16_t flags, uint64_t request_id,
                     std::string_view payload) {
  std::string out;
  AppendFrameRaw(&out, type, flags, request_id, payload);
  link->conn->output().Append(out);
  stats_.frames_out++;
}

void Bus::OnDrained(net::Connection* conn) {
  auto* link = static_cast<Link*>(conn->user_data());
  if (link == nullptr) return;
  conn->Flush();
  if (link->paused && conn->pending_output() <= options_.max_link_output / 2) {
    link->paused = false;
    conn->StartReading();
    // Frames that arrived before the pause may still wait in the input.
    if (link->authenticated) ReadFrames(link->serial);
  }
}

void Bus::OnClosed(net::Connection* conn) {
  auto* raw = static_cast<Link*>(conn->user_data());
  if (raw == nullptr) return;
  auto it = links_.find(raw->serial);
  if (it == links_.end()) return;
  std::unique_ptr<Link> link = std::move(it->second);
  links_.erase(it);
  stats_.bytes_in += conn->bytes_read();
  stats_.bytes_out += conn->bytes_written();
  const uint64_t serial = link->serial;
  std::string reason = link->close_reason.empty() ? "connection closed" : link->close_reason;

  std::string what;
  if (link->authenticated) {
    auto up = up_.find(link->peer_id);
    if (up != up_.end()) {
      std::erase(up->second, serial);
      if (up->second.empty()) up_.erase(up);
    }
    what = "link " + std::string(link->outbound ? "to" : "from") + " node " +
           NodeIdHex(link->peer_id) + " at " + link->address + " down: " + reason;
    Log("bus: " + what);
  }

  // An outbound link of a member: redial, logging a failure once until it
  // changes (a node that stays down is one line, not one per retry).
  if (link->dialed_for != 0) {
    auto p = peers_.find(link->dialed_for);
    if (p != peers_.end() && p->second->link == serial) {
      p->second->link = 0;
      ScheduleReconnect(p->second.get(), reason, /*log=*/!link->authenticated);
    }
  } else if (!link->authenticated && !link->close_reason.empty()) {
    Log("bus: " + link->close_reason);  // inbound or Meet link refused or timed out
  }

  MeetCallback meet = std::move(link->meet);
  link.reset();
  if (meet) meet(Status::IOError(reason));
  FailLinkRequests(serial, what.empty() ? reason : what);
}

void Bus::FailLinkRequests(uint64_t serial, const std::string& why) {
  std::vector<RequestCallback> failed;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.link == serial) {
      if (it->second.has_due) deadlines_.erase({it->second.due, it->first});
      failed.push_back(std::move(it->second.done));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  if (failed.empty()) return;
  ArmTimer();
  Status s = Status::IOError(why);
  for (auto& cb : failed) cb(s, nullptr);
}

bool Bus::Send(uint64_t peer, FrameType type, std::string_view payload) {
  if (closed_) return false;
  Link* link = LinkFor(peer);
  if (link == nullptr || link->conn->pending_output() > options_.max_link_output) return false;
  WriteFrame(link, static_cast<uint8_t>(type), 0, 0, payload);
  MarkDirty(link);
  return true;
}

void Bus::Request(uint64_t peer, FrameType type, std::string_view payload, int timeout_ms,
                  RequestCallback done) {
  if (!done) return;
  if (closed_) {
    done(Status::IOError("bus closed"), nullptr);
    return;
  }
  const uint64_t id = next_request_id_++;
  Pending p;
  p.peer = peer;
  p.timeout_ms = timeout_ms;
  p.done = std::move(done);
  const uint64_t now = uv_now(loop_);
  Link* link = LinkFor(peer);
  if (link == nullptr) {
    p.failure = Status::IOError("no link to node " + NodeIdHex(peer));
  } else if (link->conn->pending_output() > options_.max_link_output) {
    p.failure = Status::Busy("bus link to node " + NodeIdHex(peer) + " is backed up");
  }
  if (!p.failure.ok()) {
    // Reported from the timer, never from inside this call.
    p.has_due = true;
    p.due = now;
  } else {
    WriteFrame(link, static_cast<uint8_t>(type), 0, id, payload);
    MarkDirty(link);
    p.link = link->serial;
    if (timeout_ms > 0) {
      p.has_due = true;
      p.due = now + static_cast<uint64_t>(timeout_ms);
    }
  }
  AddPending(id, std::move(p));
}

void Bus::AddPending(uint64_t request_id, Pending pending) {
  if (pending.has_due) deadlines_.insert({pending.due, request_id});
  pending_.emplace(request_id, std::move(pending));
  ArmTimer();
}

void Bus::ArmTimer() {
  if (deadlines_.empty()) {
    if (timer_due_ != 0) timer_->Stop();
    timer_due_ = 0;
    return;
  }
  uint64_t due = deadlines_.begin()->first;
  if (timer_due_ == due) return;
  uint64_t now = uv_now(loop_);
  timer_->Start(due > now ? due - now : 0, 0);
  timer_due_ = due;
}

void Bus::OnTimer() {
  timer_due_ = 0;
  const uint64_t now = uv_now(loop_);
  std::vector<std::pair<RequestCallback, Status>> expired;
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    uint64_t id = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    Pending p = std::move(it->second);
    pending_.erase(it);
    Status s = p.failure;
    if (s.ok()) {
      stats_.request_timeouts++;
      s = Status::IOError("request to node " + NodeIdHex(p.peer) + " timed out after " +
                          std::to_string(p.timeout_ms) + " ms");
    }
    expired.emplace_back(std::move(p.done), std::move(s));
  }
  ArmTimer();
  for (auto& [cb, s] : expired) cb(s, nullptr);
}

bool Bus::Connected(uint64_t peer) const { return LinkFor(peer) != nullptr; }

uint16_t Bus::PeerClientPort(uint64_t peer) const {
  auto it = client_ports_.find(peer);
  return it == client_ports_.end() ? 0 : it->second;
}

BusStats Bus::stats() const {
  BusStats s = stats_;
  for (const auto& [serial, link] : links_) {
    if (link->authenticated) {
      s.links_up++;
    } else {
      s.links_connecting++;
    }
    s.bytes_in += link->conn->bytes_read();
    s.bytes_out += link->conn->bytes_written();
  }
  for (const auto& [id, p] : pending_) {
    if (p.failure.ok()) s.requests_pending++;
  }
  return s;
}

void Bus::ReplyError(const Responder& reply, ErrorCode code, std::string_view message) {
  if (!reply) return;
  std::string out;
  ErrorMsg{static_cast<uint16_t>(code), std::string(message)}.EncodeTo(&out);
  reply(FrameType::kError, out);
}

Status Bus::DecodeError(const FrameView& frame, ErrorMsg* error) {
  if (frame.type != static_cast<uint8_t>(FrameType::kError)) {
    return Status::Corruption("not an ERROR frame: " + FrameTypeName(frame.type));
  }
  return error->Decode(frame.payload);
}

}  // namespace kv::cluster
