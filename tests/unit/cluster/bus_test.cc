// Bus over real sockets on 127.0.0.1, all nodes on one uv loop in this
// process. Every wait polls with a deadline (RunUntil) and fails the test
// rather than hang; every test checks that no libuv handle is left behind.
// Bus ports come from the OS (bus_port 0, then Bus::bus_port()).
#include "cluster/bus.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cluster/messages.h"
#include "net/connection.h"
#include "net/loop.h"

namespace kv::cluster {
namespace {

using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// One uv loop per test; the destructor checks that every handle was freed.
class TestLoop {
 public:
  TestLoop() { uv_loop_init(&loop_); }
  ~TestLoop() {
    for (int i = 0; i < 100 && uv_loop_alive(&loop_); i++) uv_run(&loop_, UV_RUN_NOWAIT);
    int rc = uv_loop_close(&loop_);
    CHECK_MESSAGE(rc == 0, "a libuv handle was left open");
    if (rc != 0) {
      net::CloseAllHandles(&loop_);
      uv_loop_close(&loop_);
    }
  }
  uv_loop_t* get() { return &loop_; }

  // Runs the loop until pred() holds or timeout_ms passed; returns pred().
  bool RunUntil(const std::function<bool()>& pred, int timeout_ms = 5000) {
    net::Timer tick(&loop_, [] {});  // wakes uv_run so the deadline is checked
    tick.Start(5, 5);
    auto start = Clock::now();
    while (!pred() && MsSince(start) < timeout_ms) uv_run(&loop_, UV_RUN_ONCE);
    return pred();
  }
  void RunFor(int ms) {
    RunUntil([] { return false; }, ms);
  }

 private:
  uv_loop_t loop_;
};

bool Contains(const std::vector<std::string>& lines, const std::string& what) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(what) != std::string::npos; });
}
int Count(const std::vector<std::string>& lines, const std::string& what) {
  return static_cast<int>(std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
    return l.find(what) != std::string::npos;
  }));
}

struct Received {
  uint64_t from;
  uint8_t type;
  uint64_t request_id;
  std::string payload;
};

// A node's bus plus what it saw. By default it answers every request with
// FORWARD_REPLY echoing the payload.
struct Node {
  std::vector<std::string> logs;
  std::vector<Received> frames;
  std::vector<Bus::Responder> held;  // replies kept when hold_replies
  bool hold_replies = false;
  std::unique_ptr<Bus> bus;

  Node(uv_loop_t* loop, uint64_t id, std::string secret = "secret", uint16_t port = 0,
       size_t max_link_output = 64u << 20) {
    BusOptions o;
    o.self.node_id = id;
    o.self.cluster_name = "kv";
    o.self.host = "127.0.0.1";
    o.self.port = 7000;
    o.self.bus_port = port;
    o.self.secret = std::move(secret);
    o.reconnect_min_ms = 20;
    o.reconnect_max_ms = 200;
    o.handshake_timeout_ms = 1000;
    o.max_link_output = max_link_output;
    o.log = [this](const std::string& line) { logs.push_back(line); };
    bus = std::make_unique<Bus>(
        loop, std::move(o), [this](uint64_t from, const FrameView& f, Bus::Responder reply) {
          frames.push_back({from, f.type, f.request_id, std::string(f.payload)});
          if (!reply) return;
          if (hold_replies) {
            held.push_back(std::move(reply));
          } else {
            reply(FrameType::kForwardReply, f.payload);
          }
        });
    REQUIRE(bus->Start().ok());
    REQUIRE(bus->bus_port() != 0);
  }
};

// Runs both nodes until A has an authenticated link to B and B one to A.
void Link(TestLoop& loop, Node& a, Node& b) {
  a.bus->AddPeer(b.bus->node_id(), "127.0.0.1", b.bus->bus_port());
  REQUIRE(loop.RunUntil(
      [&] { return a.bus->Connected(b.bus->node_id()) && b.bus->Connected(a.bus->node_id()); }));
}

struct Outcome {
  bool called = false;
  util::Status status;
  uint8_t type = 0;
  std::string payload;
};
Bus::RequestCallback Capture(Outcome* out) {
  return [out](util::Status s, const FrameView* f) {
    CHECK_FALSE(out->called);  // exactly once
    out->called = true;
    out->status = s;
    if (f != nullptr) {
      out->type = f->type;
      out->payload = std::string(f->payload);
    }
  };
}

TEST_CASE("bus: two nodes authenticate and exchange one-way frames and requests") {
  TestLoop loop;
  Node a(loop.get(), 1), b(loop.get(), 2);
  Link(loop, a, b);
  CHECK(Contains(a.logs, "link to node 0000000000000002 at 127.0.0.1:"));
  CHECK(Contains(b.logs, "link from node 0000000000000001"));

  // One-way, both directions (B answers over the link A dialled).
  CHECK(a.bus->Send(2, FrameType::kGossip, "from a"));
  CHECK(b.bus->Send(1, FrameType::kGossip, "from b"));
  REQUIRE(loop.RunUntil([&] { return !a.frames.empty() && !b.frames.empty(); }));
  CHECK(b.frames[0].from == 1);
  CHECK(b.frames[0].type == static_cast<uint8_t>(FrameType::kGossip));
  CHECK(b.frames[0].request_id == 0);
  CHECK(b.frames[0].payload == "from a");
  CHECK(a.frames[0].from == 2);
  CHECK(a.frames[0].payload == "from b");

  // Request / response.
  Outcome r;
  a.bus->Request(2, FrameType::kForward, "question", 2000, Capture(&r));
  CHECK_FALSE(r.called);
  REQUIRE(loop.RunUntil([&] { return r.called; }));
  CHECK(r.status.ok());
  CHECK(r.type == static_cast<uint8_t>(FrameType::kForwardReply));
  CHECK(r.payload == "question");

  // PING is answered by the bus itself, token echoed.
  Outcome pong;
  std::string ping;
  Ping{42}.EncodeTo(&ping);
  a.bus->Request(2, FrameType::kPing, ping, 2000, Capture(&pong));
  REQUIRE(loop.RunUntil([&] { return pong.called; }));
  REQUIRE(pong.status.ok());
  CHECK(pong.type == static_cast<uint8_t>(FrameType::kPong));
  Ping echoed;
  REQUIRE(echoed.Decode(pong.payload).ok());
  CHECK(echoed.token == 42);

  // A request of a type B does not know: ERROR kUnknownType; an unknown
  // one-way frame is dropped and the link stays up.
  size_t seen = b.frames.size();
  CHECK(a.bus->Send(2, static_cast<FrameType>(77), "dropped"));
  Outcome unknown;
  a.bus->Request(2, static_cast<FrameType>(77), "x", 2000, Capture(&unknown));
  REQUIRE(loop.RunUntil([&] { return unknown.called; }));
  REQUIRE(unknown.status.ok());
  REQUIRE(unknown.type == static_cast<uint8_t>(FrameType::kError));
  FrameView view;
  view.type = unknown.type;
  view.payload = unknown.payload;
  ErrorMsg err;
  REQUIRE(Bus::DecodeError(view, &err).ok());
  CHECK(err.code == static_cast<uint16_t>(ErrorCode::kUnknownType));
  CHECK(b.frames.size() == seen);
  CHECK(a.bus->Connected(2));

  BusStats sa = a.bus->stats();
  CHECK(sa.links_up >= 1);
  CHECK(sa.frames_out >= 5);
  CHECK(sa.frames_in >= 4);
  CHECK(sa.requests_pending == 0);
  CHECK(sa.handshake_refusals == 0);
}

TEST_CASE("bus: 1000 pipelined requests are all answered and correlated") {
  TestLoop loop;
  Node a(loop.get(), 1), b(loop.get(), 2);
  b.hold_replies = true;  // answer all at once, in reverse order
  Link(loop, a, b);
  constexpr int kN = 1000;
  int answered = 0, wrong = 0;
  for (int i = 0; i < kN; i++) {
    std::string payload = "req-" + std::to_string(i);
    a.bus->Request(2, FrameType::kForward, payload, 10000,
                   [&answered, &wrong, payload](util::Status s, const FrameView* f) {
                     answered++;
                     if (!s.ok() || f == nullptr || f->payload != "re:" + payload) wrong++;
                   });
  }
  REQUIRE(loop.RunUntil([&] { return b.held.size() == kN; }));
  for (int i = kN - 1; i >= 0; i--) {
    b.held[i](FrameType::kForwardReply, "re:" + b.frames[i].payload);
  }
  REQUIRE(loop.RunUntil([&] { return answered == kN; }));
  CHECK(wrong == 0);
  CHECK(a.bus->stats().requests_pending == 0);
}

TEST_CASE("bus: a request to a peer that never answers times out within bounds") {
  TestLoop loop;
  Node a(loop.get(), 1), b(loop.get(), 2);
  b.hold_replies = true;
  Link(loop, a, b);
  Outcome r;
  auto start = Clock::now();
  a.bus->Request(2, FrameType::kForward, "anyone?", 200, Capture(&r));
  REQUIRE(loop.RunUntil([&] { return r.called; }, 3000));
  int64_t elapsed = MsSince(start);
  CHECK(elapsed >= 190);
  CHECK(elapsed < 1500);
  CHECK(r.status.IsIOError());
  CHECK(r.status.message().find("timed out") != std::string::npos);
  CHECK(a.bus->stats().request_timeouts == 1);
  // A late answer is dropped, and the link stays up.
  REQUIRE(b.held.size() == 1);
  b.held[0](FrameType::kForwardReply, "too late");
  loop.RunFor(50);
  CHECK(a.bus->Connected(2));
}

TEST_CASE("bus: a request without a link fails after the call, not inside it") {
  TestLoop loop;
  Node a(loop.get(), 1);
  Outcome r;
  a.bus->Request(9, FrameType::kForward, "x", 1000, Capture(&r));
  CHECK_FALSE(r.called);
  CHECK_FALSE(a.bus->Send(9, FrameType::kGossip, "x"));
  REQUIRE(loop.RunUntil([&] { return r.called; }, 1000));
  CHECK(r.status.IsIOError());
  CHECK(r.status.message().find("no link") != std::string::npos);
}

TEST_CASE("bus: a peer with the wrong cluster-secret is refused on both sides and logged") {
  TestLoop loop;
  Node a(loop.get(), 1, "secret-a"), b(loop.get(), 2, "secret-b");
  a.bus->AddPeer(2, "127.0.0.1", b.bus->bus_port());
  REQUIRE(loop.RunUntil([&] {
    return Contains(b.logs, "bad cluster-secret proof") &&
           Contains(a.logs, "refused the handshake: bad cluster-secret proof");
  }));
  CHECK(Contains(b.logs, "bad cluster-secret proof from 127.0.0.1:"));
  loop.RunFor(100);  // a few redials, each refused
  CHECK_FALSE(a.bus->Connected(2));
  CHECK_FALSE(b.bus->Connected(1));
  CHECK(a.bus->stats().handshake_refusals >= 1);
  CHECK(b.bus->stats().handshake_refusals >= 1);
  CHECK(b.frames.empty());
  // The initiator logs the same refusal once, not once per redial.
  CHECK(Count(a.logs, "refused the handshake") == 1);
}

// A hand-driven client of a bus port: raw bytes, or a real handshake and
// then raw bytes.
struct RawPeer : net::Connection::Handler {
  HandshakeConfig config;
  std::unique_ptr<Handshake> handshake;
  net::Connection* conn = nullptr;
  bool connected = false, authenticated = false, closed = false;

  ~RawPeer() override {
    if (conn != nullptr) {
      conn->set_handler(nullptr);
      conn->Close();
    }
  }

  void Dial(uv_loop_t* loop, uint16_t port) {
    util::Status error;
    conn = net::Connection::Connect(
        loop, "127.0.0.1", port, this,
        [this](net::Connection* c, util::Status s) {
          CHECK(s.ok());
          connected = true;
          c->StartReading();
          if (handshake != nullptr) {
            std::string out;
            handshake->Start(&out);
            c->output().Append(out);
            c->Flush();
          }
        },
        &error);
    REQUIRE(conn != nullptr);
  }
  void Write(std::string_view bytes) {
    conn->output().Append(bytes);
    conn->Flush();
  }
  void OnReadable(net::Connection* c) override {
    if (handshake != nullptr && !handshake->done()) {
      std::string out;
      c->input().Consume(handshake->Receive(c->input().view(), &out));
      c->output().Append(out);
      c->Flush();
      authenticated = handshake->state() == Handshake::State::kAuthenticated;
    }
    c->input().Clear();
  }
  void OnDrained(net::Connection* c) override { c->Flush(); }
  void OnClosed(net::Connection*) override {
    closed = true;
    conn = nullptr;
  }
};

TEST_CASE("bus: a peer sending garbage or a corrupt frame is disconnected") {
  TestLoop loop;
  Node b(loop.get(), 2);

  SUBCASE("garbage instead of HELLO") {
    RawPeer raw;
    raw.Dial(loop.get(), b.bus->bus_port());
    REQUIRE(loop.RunUntil([&] { return raw.connected; }));
    raw.Write("*1\r\n$4\r\nPING\r\n");
    REQUIRE(loop.RunUntil([&] { return raw.closed; }));
    CHECK(Contains(b.logs, "corrupt handshake frame from 127.0.0.1:"));
    CHECK(b.bus->stats().handshake_refusals == 1);
  }
  SUBCASE("a corrupt frame after authenticating") {
    RawPeer raw;
    raw.config.node_id = 9;
    raw.config.cluster_name = "kv";
    raw.config.host = "127.0.0.1";
    raw.config.secret = "secret";
    Nonce nonce{};
    nonce[0] = 1;
    nonce[31] = 7;
    raw.handshake =
        std::make_unique<Handshake>(Handshake::Role::kInitiator, raw.config, "b", nonce, 2);
    raw.Dial(loop.get(), b.bus->bus_port());
    REQUIRE(loop.RunUntil([&] { return raw.authenticated && b.bus->Connected(9); }));
    std::string frame;
    AppendFrame(&frame, FrameType::kGossip, 0, 0, "payload");
    frame.back() ^= 0x01;  // payload CRC
    raw.Write(frame);
    REQUIRE(loop.RunUntil([&] { return raw.closed && !b.bus->Connected(9); }));
    CHECK(Contains(b.logs, "corrupt frame: bus frame payload CRC mismatch"));
    CHECK(b.bus->stats().corrupt_frames == 1);
    CHECK(b.frames.empty());
  }
  SUBCASE("a silent peer is dropped at the handshake deadline") {
    RawPeer raw;
    raw.Dial(loop.get(), b.bus->bus_port());
    auto start = Clock::now();
    REQUIRE(loop.RunUntil([&] { return raw.closed; }, 3000));
    CHECK(MsSince(start) >= 900);
    CHECK(Contains(b.logs, "timed out after 1000 ms"));
  }
}

TEST_CASE("bus: a link whose peer does not read refuses new traffic instead of buffering") {
  TestLoop loop;
  Node b(loop.get(), 2, "secret", 0, /*max_link_output=*/256 * 1024);
  RawPeer raw;
  raw.config.node_id = 9;
  raw.config.cluster_name = "kv";
  raw.config.host = "127.0.0.1";
  raw.config.secret = "secret";
  Nonce nonce{};
  nonce[0] = 3;
  raw.handshake =
      std::make_unique<Handshake>(Handshake::Role::kInitiator, raw.config, "b", nonce, 2);
  raw.Dial(loop.get(), b.bus->bus_port());
  REQUIRE(loop.RunUntil([&] { return raw.authenticated && b.bus->Connected(9); }));
  raw.conn->StopReading();
  std::string chunk(1 << 20, 'x');
  int sent = 0;
  bool refused = false;
  for (int i = 0; i < 256 && !refused; i++) {
    if (b.bus->Send(9, FrameType::kGossip, chunk)) {
      sent++;
      loop.RunFor(1);
    } else {
      refused = true;
    }
  }
  CHECK(refused);
  CHECK(sent < 256);
  Outcome r;
  b.bus->Request(9, FrameType::kForward, "x", 1000, Capture(&r));
  REQUIRE(loop.RunUntil([&] { return r.called; }));
  CHECK(r.status.code() == util::Status::Code::kBusy);
}

TEST_CASE("bus: the outbound link comes back after the peer restarts, with backoff") {
  TestLoop loop;
  Node a(loop.get(), 1);
  auto b = std::make_unique<Node>(loop.get(), 2);
  uint16_t port = b->bus->bus_port();
  Link(loop, a, *b);

  Outcome pending;
  b->hold_replies = true;
  a.bus->Request(2, FrameType::kForward, "x", 60000, Capture(&pending));
  REQUIRE(loop.RunUntil([&] { return b->held.size() == 1; }));
  b.reset();  // the peer goes away; its held responder must now be harmless
  REQUIRE(loop.RunUntil([&] { return !a.bus->Connected(2) && pending.called; }));
  CHECK(pending.status.IsIOError());
  CHECK(Contains(a.logs,
                 "link to node 0000000000000002 at 127.0.0.1:" + std::to_string(port) + " down"));
  loop.RunFor(400);  // several refused redials (20..200 ms apart)
  CHECK(a.bus->stats().reconnects >= 2);
  CHECK(Count(a.logs, "connection refused") == 1);  // logged once, not per retry

  Node b2(loop.get(), 2, "secret", port);
  REQUIRE(loop.RunUntil([&] { return a.bus->Connected(2); }, 3000));
  Outcome r;
  a.bus->Request(2, FrameType::kForward, "again", 2000, Capture(&r));
  REQUIRE(loop.RunUntil([&] { return r.called; }));
  CHECK(r.status.ok());
  CHECK(r.payload == "again");
}

TEST_CASE("bus: a pending request fails promptly when the link drops") {
  TestLoop loop;
  Node a(loop.get(), 1), b(loop.get(), 2);
  b.hold_replies = true;
  Link(loop, a, b);
  Outcome r;
  a.bus->Request(2, FrameType::kForward, "x", 30000, Capture(&r));
  REQUIRE(loop.RunUntil([&] { return b.held.size() == 1; }));
  auto start = Clock::now();
  b.bus->Close();
  REQUIRE(loop.RunUntil([&] { return r.called; }, 2000));
  CHECK(MsSince(start) < 1000);
  CHECK(r.status.IsIOError());
  CHECK(r.status.message().find("down") != std::string::npos);
  b.held[0](FrameType::kForwardReply, "after close");  // dropped, no crash
}

TEST_CASE("bus: Close completes pending requests and Meets at once") {
  TestLoop loop;
  Node a(loop.get(), 1), b(loop.get(), 2);
  b.hold_replies = true;
  Link(loop, a, b);
  Outcome r;
  a.bus->Request(2, FrameType::kForward, "x", 30000, Capture(&r));
  bool met = false;
  a.bus->Meet("127.0.0.1", b.bus->bus_port(), [&](Result<uint64_t> id) {
    met = true;
    CHECK_FALSE(id.ok());
  });
  a.bus->Close();
  CHECK(r.called);
  CHECK(r.status.message() == "bus closed");
  CHECK(met);
  Outcome after;
  a.bus->Request(2, FrameType::kForward, "x", 100, Capture(&after));
  CHECK(after.called);
  CHECK_FALSE(a.bus->Send(2, FrameType::kGossip, "x"));
}

TEST_CASE("bus: Meet learns the peer id and keeps the link") {
  TestLoop loop;
  Node a(loop.get(), 1), b(loop.get(), 0x2b);
  Result<uint64_t> got = util::Status::IOError("not yet");
  bool done = false;
  a.bus->Meet("localhost", b.bus->bus_port(), [&](Result<uint64_t> id) {
    done = true;
    got = id;
  });
  CHECK_FALSE(done);
  REQUIRE(loop.RunUntil([&] { return done; }));
  REQUIRE(got.ok());
  CHECK(got.value() == 0x2b);
  CHECK(a.bus->Connected(0x2b));
  CHECK(a.bus->Send(0x2b, FrameType::kGossip, "hi"));
  REQUIRE(loop.RunUntil([&] { return !b.frames.empty(); }));
  CHECK(b.frames[0].from == 1);

  SUBCASE("a Meet of a closed port or a hostname fails, after the call") {
    Node c(loop.get(), 3);
    uint16_t closed_port = c.bus->bus_port();
    c.bus->Close();
    bool failed1 = false, failed2 = false;
    a.bus->Meet("127.0.0.1", closed_port, [&](Result<uint64_t> id) { failed1 = !id.ok(); });
    a.bus->Meet("no-such-host.invalid", 1, [&](Result<uint64_t> id) { failed2 = !id.ok(); });
    CHECK_FALSE(failed2);
    REQUIRE(loop.RunUntil([&] { return failed1 && failed2; }));
  }
}

TEST_CASE("net: Connection::Connect refuses a non-numeric address without calling back") {
  TestLoop loop;
  struct NullHandler : net::Connection::Handler {
    void OnReadable(net::Connection*) override {}
    void OnDrained(net::Connection*) override {}
    void OnClosed(net::Connection*) override {}
  } handler;
  util::Status error;
  bool called = false;
  net::Connection* c = net::Connection::Connect(
      loop.get(), "example.invalid", 80, &handler,
      [&](net::Connection*, util::Status) { called = true; }, &error);
  CHECK(c == nullptr);
  CHECK(error.IsInvalidArgument());
  loop.RunFor(20);
  CHECK_FALSE(called);
}

}  // namespace
}  // namespace kv::cluster
