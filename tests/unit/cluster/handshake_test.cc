// The bus handshake state machine: an initiator and an acceptor
// authenticating each other through memory, and refusal (on both sides
// where the protocol lets both know) for a wrong secret, replayed or
// reflected nonces, forged proofs, wrong cluster or node ids, frames out of
// order, and truncated, corrupt or oversized frames.
#include "cluster/handshake.h"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "../test_util.h"
#include "util/coding.h"
#include "util/random.h"

namespace kv::cluster {
namespace {

using Role = Handshake::Role;
using State = Handshake::State;

bool Contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

Nonce MakeNonce(util::Random* rnd) {
  Nonce n;
  for (uint8_t& b : n) b = static_cast<uint8_t>(rnd->Next());
  return n;
}

HandshakeConfig Config(uint64_t id, std::string secret = "s3cret") {
  HandshakeConfig c;
  c.node_id = id;
  c.cluster_name = "kv";
  c.host = "127.0.0.1";
  c.port = static_cast<uint16_t>(7000 + id);
  c.bus_port = static_cast<uint16_t>(17000 + id);
  c.secret = std::move(secret);
  return c;
}

// Moves bytes between the two ends until neither has anything to say
// (bounded, so a state machine that kept talking would fail the test).
void Pump(Handshake* a, std::string* a_in, Handshake* b, std::string* b_in) {
  for (int round = 0; round < 10; round++) {
    std::string to_b, to_a;
    a_in->erase(0, a->Receive(*a_in, &to_b));
    b_in->erase(0, b->Receive(*b_in, &to_a));
    if (to_a.empty() && to_b.empty()) return;
    *a_in += to_a;
    *b_in += to_b;
  }
}

struct Link {
  explicit Link(uint64_t seed, HandshakeConfig ic = Config(1), HandshakeConfig ac = Config(2),
                uint64_t expected = 0)
      : rnd(seed),
        icfg(std::move(ic)),
        acfg(std::move(ac)),
        initiator(Role::kInitiator, icfg, "127.0.0.1:17002", MakeNonce(&rnd), expected),
        acceptor(Role::kAcceptor, acfg, "127.0.0.1:40001", MakeNonce(&rnd)) {}

  void Run() {
    initiator.Start(&to_acceptor);
    acceptor.Start(&to_initiator);
    Pump(&initiator, &to_initiator, &acceptor, &to_acceptor);
  }

  util::Random rnd;
  HandshakeConfig icfg, acfg;
  Handshake initiator, acceptor;
  std::string to_initiator, to_acceptor;
};

// Decodes the frames in `wire`, for inspecting what a side sent.
std::vector<std::pair<uint8_t, std::string>> Frames(std::string_view wire) {
  std::vector<std::pair<uint8_t, std::string>> out;
  FrameView f;
  size_t n = 0;
  while (DecodeFrame(wire, FrameLimits{}, &f, &n).ok() && n > 0) {
    out.emplace_back(f.type, std::string(f.payload));
    wire.remove_prefix(n);
  }
  return out;
}

TEST_CASE("initiator and acceptor with the same secret authenticate each other") {
  Link link(kv::test::TestSeed(1));
  link.Run();
  REQUIRE_MESSAGE(link.initiator.state() == State::kAuthenticated, link.initiator.reason());
  REQUIRE_MESSAGE(link.acceptor.state() == State::kAuthenticated, link.acceptor.reason());
  CHECK(link.initiator.peer_id() == 2);
  CHECK(link.acceptor.peer_id() == 1);
  CHECK(link.acceptor.peer().port == 7001);
  CHECK(link.acceptor.peer().bus_port == 17001);
  CHECK(link.initiator.peer().host == "127.0.0.1");
  CHECK(link.to_initiator.empty());
  CHECK(link.to_acceptor.empty());
}

TEST_CASE("handshake frames follow the documented sequence and proofs") {
  util::Random rnd(kv::test::TestSeed(2));
  HandshakeConfig ic = Config(1), ac = Config(2);
  Handshake i(Role::kInitiator, ic, "a", MakeNonce(&rnd));
  Handshake a(Role::kAcceptor, ac, "b", MakeNonce(&rnd));
  std::string hello, challenge, auth, auth_ok;
  i.Start(&hello);
  a.Start(&challenge);
  CHECK(challenge.empty());  // the acceptor waits for HELLO
  CHECK(a.Receive(hello, &challenge) == hello.size());
  CHECK(i.Receive(challenge, &auth) == challenge.size());
  CHECK(a.Receive(auth, &auth_ok) == auth.size());
  std::string nothing;
  CHECK(i.Receive(auth_ok, &nothing) == auth_ok.size());
  CHECK(nothing.empty());
  auto h = Frames(hello), c = Frames(challenge), p = Frames(auth), ok = Frames(auth_ok);
  REQUIRE(h.size() == 1);
  REQUIRE(c.size() == 1);
  REQUIRE(p.size() == 1);
  REQUIRE(ok.size() == 1);
  CHECK(h[0].first == static_cast<uint8_t>(FrameType::kHello));
  CHECK(c[0].first == static_cast<uint8_t>(FrameType::kChallenge));
  CHECK(p[0].first == static_cast<uint8_t>(FrameType::kAuth));
  CHECK(ok[0].first == static_cast<uint8_t>(FrameType::kAuthOk));
  // proof = HMAC(secret, label | u32 len | HELLO | u32 len | CHALLENGE)
  std::string t = "kv-bus-v1 initiator";
  util::PutFixed32(&t, static_cast<uint32_t>(h[0].second.size()));
  t += h[0].second;
  util::PutFixed32(&t, static_cast<uint32_t>(c[0].second.size()));
  t += c[0].second;
  const util::Sha256Digest want = util::HmacSha256("s3cret", t);
  CHECK(p[0].second == std::string(reinterpret_cast<const char*>(want.data()), 32));
  t.replace(0, 19, "kv-bus-v1 acceptor");
  const util::Sha256Digest want_ok = util::HmacSha256("s3cret", t);
  CHECK(ok[0].second == std::string(reinterpret_cast<const char*>(want_ok.data()), 32));
}

TEST_CASE("a wrong cluster-secret is refused on both sides with a clear reason") {
  Link link(kv::test::TestSeed(3), Config(1, "right"), Config(2, "wrong"));
  link.Run();
  CHECK(link.acceptor.state() == State::kRefused);
  CHECK(link.acceptor.reason() == "bad cluster-secret proof from 127.0.0.1:40001");
  CHECK(link.initiator.state() == State::kRefused);
  CHECK(link.initiator.reason() ==
        "127.0.0.1:17002 refused the handshake: bad cluster-secret proof");
}

TEST_CASE("a forged AUTH_OK (an acceptor without the secret) is refused by the initiator") {
  util::Random rnd(kv::test::TestSeed(4));
  HandshakeConfig ic = Config(1), ac = Config(2);
  Handshake i(Role::kInitiator, ic, "10.0.0.2:17002", MakeNonce(&rnd));
  Handshake a(Role::kAcceptor, ac, "x", MakeNonce(&rnd));
  std::string hello, challenge, auth;
  i.Start(&hello);
  a.Start(&challenge);
  a.Receive(hello, &challenge);
  i.Receive(challenge, &auth);
  std::string forged, reply;
  AuthProof p;
  for (uint8_t& b : p.proof) b = static_cast<uint8_t>(rnd.Next());
  AppendMessage(&forged, FrameType::kAuthOk, p);
  i.Receive(forged, &reply);
  CHECK(i.state() == State::kRefused);
  CHECK(i.reason() == "bad cluster-secret proof from 10.0.0.2:17002");
  auto sent = Frames(reply);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].first == static_cast<uint8_t>(FrameType::kAuthFail));
}

TEST_CASE("a recorded HELLO and AUTH replayed on a new link are refused") {
  util::Random rnd(kv::test::TestSeed(5));
  HandshakeConfig ic = Config(1), ac = Config(2);
  Handshake i(Role::kInitiator, ic, "a", MakeNonce(&rnd));
  Handshake a1(Role::kAcceptor, ac, "b", MakeNonce(&rnd));
  std::string hello, challenge, auth, auth_ok;
  i.Start(&hello);
  a1.Start(&challenge);
  a1.Receive(hello, &challenge);
  i.Receive(challenge, &auth);
  a1.Receive(auth, &auth_ok);
  REQUIRE(a1.state() == State::kAuthenticated);

  // The attacker replays both recorded frames at once to a fresh acceptor.
  Handshake a2(Role::kAcceptor, ac, "203.0.113.9:5555", MakeNonce(&rnd));
  std::string out;
  a2.Start(&out);
  a2.Receive(hello + auth, &out);
  CHECK(a2.state() == State::kRefused);
  CHECK(a2.reason() == "bad cluster-secret proof from 203.0.113.9:5555");
}

TEST_CASE("a peer reflecting our nonce or our node id is refused") {
  util::Random rnd(kv::test::TestSeed(6));
  HandshakeConfig ac = Config(2);
  const Nonce mine = MakeNonce(&rnd);
  Handshake a(Role::kAcceptor, ac, "p:1", mine);
  std::string out;
  a.Start(&out);
  Hello h;
  h.node_id = 9;
  h.cluster_name = "kv";
  h.nonce = mine;  // our own nonce coming back
  std::string wire;
  AppendMessage(&wire, FrameType::kHello, h);
  a.Receive(wire, &out);
  CHECK(a.state() == State::kRefused);
  CHECK(a.reason() == "replayed or invalid nonce from p:1");

  Handshake a2(Role::kAcceptor, ac, "p:2", MakeNonce(&rnd));
  a2.Start(&out);
  h.nonce = Nonce{};  // all zero
  wire.clear();
  AppendMessage(&wire, FrameType::kHello, h);
  a2.Receive(wire, &out);
  CHECK(a2.reason() == "replayed or invalid nonce from p:2");

  // A node dialling itself sees its own id in the CHALLENGE.
  HandshakeConfig same = Config(2);
  Link self(7, same, same);
  self.Run();
  CHECK(self.acceptor.state() == State::kRefused);
  CHECK(Contains(self.acceptor.reason(), "own id"));
  CHECK(self.initiator.state() == State::kRefused);
  CHECK(Contains(self.initiator.reason(), "refused the handshake"));
}

TEST_CASE("wrong cluster name and unexpected node id are refused") {
  HandshakeConfig other = Config(2);
  other.cluster_name = "prod";
  Link names(kv::test::TestSeed(8), Config(1), other);
  names.Run();
  CHECK(names.acceptor.state() == State::kRefused);
  CHECK(names.acceptor.reason() == "127.0.0.1:40001 belongs to cluster 'kv', this node to 'prod'");
  CHECK(names.initiator.state() == State::kRefused);
  CHECK(Contains(names.initiator.reason(), "cluster name mismatch"));

  Link ids(9, Config(1), Config(2), /*expected=*/3);
  ids.Run();
  CHECK(ids.initiator.state() == State::kRefused);
  CHECK(ids.initiator.reason() == "127.0.0.1:17002 is node 2, expected node 3");
  CHECK(ids.acceptor.state() == State::kRefused);
}

TEST_CASE("a non-handshake frame first is refused by either role") {
  util::Random rnd(kv::test::TestSeed(10));
  HandshakeConfig cfg = Config(2);
  std::string ping;
  AppendMessage(&ping, FrameType::kPing, Ping{1}, 5);

  Handshake a(Role::kAcceptor, cfg, "1.2.3.4:5", MakeNonce(&rnd));
  std::string out;
  a.Start(&out);
  CHECK(a.Receive(ping, &out) == ping.size());
  CHECK(a.state() == State::kRefused);
  CHECK(a.reason() == "expected HELLO from 1.2.3.4:5, got PING");
  REQUIRE(Frames(out).size() == 1);
  CHECK(Frames(out)[0].first == static_cast<uint8_t>(FrameType::kAuthFail));

  Handshake i(Role::kInitiator, cfg, "1.2.3.4:6", MakeNonce(&rnd));
  out.clear();
  i.Start(&out);
  i.Receive(ping, &out);
  CHECK(i.reason() == "expected CHALLENGE from 1.2.3.4:6, got PING");

  // AUTH before HELLO, and a second HELLO where AUTH is due.
  Handshake a2(Role::kAcceptor, cfg, "p", MakeNonce(&rnd));
  a2.Start(&out);
  std::string auth;
  AppendMessage(&auth, FrameType::kAuth, AuthProof{});
  a2.Receive(auth, &out);
  CHECK(a2.reason() == "expected HELLO from p, got AUTH");

  Link twice(11);
  std::string hello;
  twice.initiator.Start(&hello);
  twice.acceptor.Start(&out);
  twice.acceptor.Receive(hello + hello, &out);
  CHECK(twice.acceptor.state() == State::kRefused);
  CHECK(twice.acceptor.reason() == "expected AUTH from 127.0.0.1:40001, got HELLO");
}

TEST_CASE("truncated handshake frames wait; corrupt, malformed or oversized ones are refused") {
  util::Random rnd(kv::test::TestSeed(12));
  HandshakeConfig ic = Config(1), ac = Config(2);
  Handshake i(Role::kInitiator, ic, "i", MakeNonce(&rnd));
  std::string hello;
  i.Start(&hello);

  for (size_t len = 0; len < hello.size(); len++) {
    Handshake a(Role::kAcceptor, ac, "p", MakeNonce(&rnd));
    std::string out;
    a.Start(&out);
    CHECK(a.Receive(std::string_view(hello.data(), len), &out) == 0);
    CHECK(a.state() == State::kInProgress);
    CHECK(out.empty());
  }
  for (size_t pos = 0; pos < hello.size(); pos++) {
    std::string bad = hello;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x20);
    Handshake a(Role::kAcceptor, ac, "p", MakeNonce(&rnd));
    std::string out;
    a.Start(&out);
    a.Receive(bad, &out);
    CAPTURE(pos);
    CHECK(a.state() == State::kRefused);
    CHECK(Contains(a.reason(), "corrupt handshake frame from p: "));
  }
  // A well-framed HELLO whose payload is cut short.
  std::string payload = Frames(hello)[0].second;
  std::string cut;
  AppendFrame(&cut, FrameType::kHello, 0, 0, payload.substr(0, payload.size() - 1));
  Handshake a(Role::kAcceptor, ac, "p", MakeNonce(&rnd));
  std::string out;
  a.Start(&out);
  a.Receive(cut, &out);
  CHECK(a.reason() == "malformed HELLO from p: HELLO payload: truncated at nonce");

  // More than kHandshakeMaxPayload before authentication: refused from the
  // header, before the payload arrives.
  std::string big;
  AppendFrame(&big, FrameType::kHello, 0, 0, std::string(kHandshakeMaxPayload + 1, 'x'));
  Handshake a2(Role::kAcceptor, ac, "p", MakeNonce(&rnd));
  a2.Start(&out);
  a2.Receive(std::string_view(big.data(), kFrameHeaderSize), &out);
  CHECK(a2.state() == State::kRefused);
  CHECK(Contains(a2.reason(), "over limit 4096"));
}

TEST_CASE("bytes after the final handshake frame are left for the bus") {
  Link link(kv::test::TestSeed(13));
  std::string hello, challenge, auth, auth_ok;
  link.initiator.Start(&hello);
  link.acceptor.Start(&challenge);
  std::string ping;
  AppendMessage(&ping, FrameType::kPing, Ping{77}, 1);
  link.acceptor.Receive(hello, &challenge);
  link.initiator.Receive(challenge, &auth);
  // The initiator may pipeline its first bus frame right after AUTH.
  const std::string acceptor_in = auth + ping;
  CHECK(link.acceptor.Receive(acceptor_in, &auth_ok) == auth.size());
  CHECK(link.acceptor.state() == State::kAuthenticated);
  const std::string initiator_in = auth_ok + ping;
  std::string nothing;
  CHECK(link.initiator.Receive(initiator_in, &nothing) == auth_ok.size());
  CHECK(link.initiator.state() == State::kAuthenticated);
  // Further calls consume nothing.
  CHECK(link.initiator.Receive(ping, &nothing) == 0);
  CHECK(nothing.empty());
}

TEST_CASE("an AUTH_FAIL from the peer ends the handshake without a reply") {
  util::Random rnd(kv::test::TestSeed(14));
  HandshakeConfig ic = Config(1);
  Handshake i(Role::kInitiator, ic, "9.9.9.9:1", MakeNonce(&rnd));
  std::string out;
  i.Start(&out);
  out.clear();
  std::string fail;
  AppendMessage(&fail, FrameType::kAuthFail, AuthFail{"go away"});
  i.Receive(fail, &out);
  CHECK(i.state() == State::kRefused);
  CHECK(i.reason() == "9.9.9.9:1 refused the handshake: go away");
  CHECK(out.empty());
}

}  // namespace
}  // namespace kv::cluster
