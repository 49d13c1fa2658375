#include "cluster/handshake.h"

#include <algorithm>

#include "util/coding.h"

namespace kv::cluster {
namespace {

// DO NOT CHANGE: part of the proofs on the wire.
constexpr std::string_view kInitiatorLabel = "kv-bus-v1 initiator";
constexpr std::string_view kAcceptorLabel = "kv-bus-v1 acceptor";
constexpr size_t kMaxReasonSize = 200;

bool AllZero(const Nonce& n) {
  return std::all_of(n.begin(), n.end(), [](uint8_t b) { return b == 0; });
}

}  // namespace

Handshake::Handshake(Role role, const HandshakeConfig& config, std::string peer_address,
                     const Nonce& nonce, uint64_t expected_peer_id)
    : role_(role),
      config_(config),
      peer_address_(std::move(peer_address)),
      expected_peer_id_(expected_peer_id) {
  self_.node_id = config.node_id;
  self_.cluster_name = config.cluster_name;
  self_.host = config.host;
  self_.port = config.port;
  self_.bus_port = config.bus_port;
  self_.nonce = nonce;
  self_.EncodeTo(&self_payload_);
}

util::Sha256Digest Handshake::Proof(std::string_view secret, Role role, std::string_view hello_i,
                                    std::string_view hello_a) {
  // label | len(hello_i) u32 | hello_i | len(hello_a) u32 | hello_a. The
  // lengths keep the split between the two payloads unambiguous.
  std::string t(role == Role::kInitiator ? kInitiatorLabel : kAcceptorLabel);
  util::PutFixed32(&t, static_cast<uint32_t>(hello_i.size()));
  t.append(hello_i);
  util::PutFixed32(&t, static_cast<uint32_t>(hello_a.size()));
  t.append(hello_a);
  return util::HmacSha256(secret, t);
}

void Handshake::Start(std::string* out) {
  if (step_ != Step::kNotStarted) return;
  if (role_ == Role::kInitiator) {
    AppendFrame(out, FrameType::kHello, 0, 0, self_payload_);
    step_ = Step::kAwaitChallenge;
  } else {
    step_ = Step::kAwaitHello;
  }
}

size_t Handshake::Receive(std::string_view in, std::string* out) {
  FrameLimits limits;
  limits.max_payload = kHandshakeMaxPayload;
  size_t consumed = 0;
  while (state_ == State::kInProgress) {
    FrameView frame;
    size_t n = 0;
    Status s = DecodeFrame(in.substr(consumed), limits, &frame, &n);
    if (!s.ok()) {
      Refuse("corrupt handshake frame from " + peer_address_ + ": " + s.message(),
             "corrupt frame: " + s.message(), out);
      break;
    }
    if (n == 0) break;
    consumed += n;
    OnFrame(frame, out);
  }
  return consumed;
}

void Handshake::OnFrame(const FrameView& frame, std::string* out) {
  if (state_ != State::kInProgress) return;
  if (frame.type == static_cast<uint8_t>(FrameType::kAuthFail)) {
    AuthFail fail;
    Status s = fail.Decode(frame.payload);
    Refuse(peer_address_ + " refused the handshake: " +
               (s.ok() ? fail.reason.substr(0, kMaxReasonSize) : s.message()),
           "", out);
    return;
  }
  switch (step_) {
    case Step::kAwaitHello:
      OnHello(frame, out);
      break;
    case Step::kAwaitChallenge:
      OnChallenge(frame, out);
      break;
    case Step::kAwaitAuth:
      OnAuth(frame, out);
      break;
    case Step::kAwaitAuthOk:
      OnAuthOk(frame, out);
      break;
    case Step::kNotStarted:
    case Step::kDone:
      Refuse("handshake frame from " + peer_address_ + " before Start", "", out);
      break;
  }
}

bool Handshake::CheckPeerHello(const FrameView& frame, const char* what, std::string* out) {
  Status s = peer_.Decode(frame.payload, what);
  if (!s.ok()) {
    Refuse("malformed " + std::string(what) + " from " + peer_address_ + ": " + s.message(),
           s.message(), out);
    return false;
  }
  if (peer_.cluster_name != config_.cluster_name) {
    Refuse(peer_address_ + " belongs to cluster '" + peer_.cluster_name.substr(0, 64) +
               "', this node to '" + config_.cluster_name + "'",
           "cluster name mismatch: this node is in '" + config_.cluster_name + "'", out);
    return false;
  }
  if (peer_.node_id == 0) {
    Refuse(peer_address_ + " announced node id 0", "node id 0 is not valid", out);
    return false;
  }
  if (peer_.node_id == config_.node_id) {
    Refuse(peer_address_ + " announced this node's own id (a link to itself, or a duplicate id)",
           "that is this node's own id", out);
    return false;
  }
  if (expected_peer_id_ != 0 && peer_.node_id != expected_peer_id_) {
    Refuse(peer_address_ + " is node " + std::to_string(peer_.node_id) + ", expected node " +
               std::to_string(expected_peer_id_),
           "unexpected node id", out);
    return false;
  }
  // A nonce equal to ours is a reflection of our own HELLO (or a broken
  // random source); an all-zero one is a broken random source.
  if (peer_.nonce == self_.nonce || AllZero(peer_.nonce)) {
    Refuse("replayed or invalid nonce from " + peer_address_, "replayed or invalid nonce", out);
    return false;
  }
  peer_payload_.assign(frame.payload.data(), frame.payload.size());
  return true;
}

void Handshake::OnHello(const FrameView& frame, std::string* out) {
  if (frame.type != static_cast<uint8_t>(FrameType::kHello)) {
    Refuse("expected HELLO from " + peer_address_ + ", got " + FrameTypeName(frame.type),
           "expected HELLO", out);
    return;
  }
  if (!CheckPeerHello(frame, "HELLO", out)) return;
  AppendFrame(out, FrameType::kChallenge, 0, 0, self_payload_);
  step_ = Step::kAwaitAuth;
}

void Handshake::OnChallenge(const FrameView& frame, std::string* out) {
  if (frame.type != static_cast<uint8_t>(FrameType::kChallenge)) {
    Refuse("expected CHALLENGE from " + peer_address_ + ", got " + FrameTypeName(frame.type),
           "expected CHALLENGE", out);
    return;
  }
  if (!CheckPeerHello(frame, "CHALLENGE", out)) return;
  AuthProof auth;
  auth.proof = Proof(config_.secret, Role::kInitiator, self_payload_, peer_payload_);
  AppendMessage(out, FrameType::kAuth, auth);
  step_ = Step::kAwaitAuthOk;
}

void Handshake::OnAuth(const FrameView& frame, std::string* out) {
  if (frame.type != static_cast<uint8_t>(FrameType::kAuth)) {
    Refuse("expected AUTH from " + peer_address_ + ", got " + FrameTypeName(frame.type),
           "expected AUTH", out);
    return;
  }
  AuthProof got;
  if (Status s = got.Decode(frame.payload, "AUTH"); !s.ok()) {
    Refuse("malformed AUTH from " + peer_address_ + ": " + s.message(), s.message(), out);
    return;
  }
  const util::Sha256Digest want =
      Proof(config_.secret, Role::kInitiator, peer_payload_, self_payload_);
  if (!util::ConstantTimeEqual(got.proof.data(), want.data(), want.size())) {
    Refuse("bad cluster-secret proof from " + peer_address_, "bad cluster-secret proof", out);
    return;
  }
  AuthProof ok;
  ok.proof = Proof(config_.secret, Role::kAcceptor, peer_payload_, self_payload_);
  AppendMessage(out, FrameType::kAuthOk, ok);
  step_ = Step::kDone;
  state_ = State::kAuthenticated;
}

void Handshake::OnAuthOk(const FrameView& frame, std::string* out) {
  if (frame.type != static_cast<uint8_t>(FrameType::kAuthOk)) {
    Refuse("expected AUTH_OK from " + peer_address_ + ", got " + FrameTypeName(frame.type),
           "expected AUTH_OK", out);
    return;
  }
  AuthProof got;
  if (Status s = got.Decode(frame.payload, "AUTH_OK"); !s.ok()) {
    Refuse("malformed AUTH_OK from " + peer_address_ + ": " + s.message(), s.message(), out);
    return;
  }
  const util::Sha256Digest want =
      Proof(config_.secret, Role::kAcceptor, self_payload_, peer_payload_);
  if (!util::ConstantTimeEqual(got.proof.data(), want.data(), want.size())) {
    Refuse("bad cluster-secret proof from " + peer_address_, "bad cluster-secret proof", out);
    return;
  }
  step_ = Step::kDone;
  state_ = State::kAuthenticated;
}

void Handshake::Refuse(std::string why, std::string_view tell_peer, std::string* out) {
  if (!tell_peer.empty()) {
    AuthFail fail;
    fail.reason = std::string(tell_peer.substr(0, kMaxReasonSize));
    AppendMessage(out, FrameType::kAuthFail, fail);
  }
  reason_ = std::move(why);
  step_ = Step::kDone;
  state_ = State::kRefused;
}

}  // namespace kv::cluster
