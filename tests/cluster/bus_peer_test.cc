// A real kv-server facing a bus peer that knows the secret but sends what
// routing never would: connection and process commands (QUIT, CLIENT LIST,
// SHUTDOWN), an unknown command, an empty or undecodable FORWARD, GOSSIP
// garbage, a frame type no build knows. Each gets an error answer or is
// dropped; the server keeps serving and never crashes. A well-formed
// FORWARD of a keyed command is served.
#include <doctest/doctest.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cluster/bus.h"
#include "cluster/messages.h"
#include "helpers/reply.h"
#include "helpers/server_process.h"
#include "net/loop.h"
#include "util/random.h"

using namespace kv;
using namespace kv::test;

namespace {

class Peer {
 public:
  explicit Peer(const std::string& secret) {
    uv_loop_init(&loop_);
    cluster::BusOptions o;
    o.self.node_id = util::OsRandom64() | 1;
    o.self.cluster_name = "kv";
    o.self.host = "127.0.0.1";
    o.self.port = 1;
    o.self.bus_port = 0;
    o.self.secret = secret;
    o.log = [](const std::string&) {};
    bus_ = std::make_unique<cluster::Bus>(
        &loop_, o, [](uint64_t, const cluster::FrameView&, cluster::Bus::Responder) {});
    REQUIRE(bus_->Start().ok());
  }
  ~Peer() {
    bus_->Close();
    bus_.reset();
    for (int i = 0; i < 100 && uv_loop_alive(&loop_); i++) uv_run(&loop_, UV_RUN_NOWAIT);
    uv_loop_close(&loop_);
  }
  bool RunUntil(const std::function<bool()>& pred, int timeout_ms = 5000) {
    net::Timer tick(&loop_, [] {});
    tick.Start(5, 5);
    auto start = std::chrono::steady_clock::now();
    while (!pred() &&
           std::chrono::steady_clock::now() - start < std::chrono::milliseconds(timeout_ms)) {
      uv_run(&loop_, UV_RUN_ONCE);
    }
    return pred();
  }
  uint64_t Meet(int bus_port) {
    std::optional<uint64_t> id;
    bool done = false;
    bus_->Meet("127.0.0.1", static_cast<uint16_t>(bus_port), [&](util::Result<uint64_t> r) {
      if (r.ok()) id = r.value();
      done = true;
    });
    REQUIRE(RunUntil([&] { return done; }));
    REQUIRE(id.has_value());
    return *id;
  }
  // The raw answer to a request: "RESP:<bytes>", "ERROR:<message>" or
  // "STATUS:<why>".
  std::string Request(uint64_t peer, uint8_t type, const std::string& payload) {
    std::string out;
    bool done = false;
    bus_->Request(peer, static_cast<cluster::FrameType>(type), payload, 3000,
                  [&](util::Status s, const cluster::FrameView* f) {
                    done = true;
                    if (!s.ok()) {
                      out = "STATUS:" + s.ToString();
                    } else if (f->type == static_cast<uint8_t>(cluster::FrameType::kError)) {
                      cluster::ErrorMsg e;
                      out = cluster::Bus::DecodeError(*f, &e).ok() ? "ERROR:" + e.message : "ERROR";
                    } else {
                      cluster::ForwardReply r;
                      out = r.Decode(f->payload).ok() ? "RESP:" + r.resp : "BAD";
                    }
                  });
    REQUIRE(RunUntil([&] { return done; }));
    return out;
  }
  std::string Forward(uint64_t peer, std::vector<std::string> argv) {
    cluster::Forward f;
    f.flags = 2;  // run there, never routed on
    f.argv = std::move(argv);
    std::string payload;
    f.EncodeTo(&payload);
    return Request(peer, static_cast<uint8_t>(cluster::FrameType::kForward), payload);
  }
  cluster::Bus& bus() { return *bus_; }

 private:
  uv_loop_t loop_;
  std::unique_ptr<cluster::Bus> bus_;
};

}  // namespace

TEST_CASE("a bus peer sending what routing never sends gets errors; the server keeps serving") {
  ServerProcess server({"--cluster-secret", "s"});
  Peer peer("s");
  const uint64_t id = peer.Meet(server.port() + 10000);

  CHECK(peer.Forward(id, {"SET", "bus:k", "v"}) == "RESP:+OK\r\n");
  CHECK(peer.Forward(id, {"GET", "bus:k"}) == "RESP:$1\r\nv\r\n");
  for (const auto& argv : std::vector<std::vector<std::string>>{{"QUIT"},
                                                                {"CLIENT", "LIST"},
                                                                {"CLIENT", "KILL", "ID", "1"},
                                                                {"SHUTDOWN"},
                                                                {"MULTI"},
                                                                {"HELLO", "3"},
                                                                {"AUTH", "x"},
                                                                {"NOSUCHCOMMAND"}}) {
    std::string r = peer.Forward(id, argv);
    CHECK_MESSAGE(r.rfind("RESP:-ERR", 0) == 0, argv[0] << " -> " << r);
  }
  CHECK(
      peer.Request(id, static_cast<uint8_t>(cluster::FrameType::kForward), "").rfind("ERROR", 0) ==
      0);
  CHECK(peer.Request(id, static_cast<uint8_t>(cluster::FrameType::kForward), "\xff\xff\xff")
            .rfind("ERROR", 0) == 0);
  CHECK(peer.Request(id, 200, "whatever").rfind("ERROR", 0) == 0);  // a type no build knows
  peer.bus().Send(id, cluster::FrameType::kGossip, "\x05garbage");
  peer.bus().Send(id, cluster::FrameType::kGossip, "");
  // Still alive, still serving, on the bus and to clients.
  CHECK(peer.Forward(id, {"GET", "bus:k"}) == "RESP:$1\r\nv\r\n");
  CHECK(Call(server.Connect(), {"GET", "bus:k"}) == Bulk("v"));
  CHECK(server.Running());
}
