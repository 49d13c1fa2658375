// Handshake: the authentication of one cluster bus link, as a pure state
// machine (no I/O, no clock, no randomness: the caller supplies the nonce
// and enforces a deadline). Both ends prove knowledge of the shared
// cluster-secret with an HMAC-SHA256 over a transcript that holds both
// sides' HELLO payloads, hence both fresh nonces and both node ids
// (cluster/PROTOCOL.md, "Handshake"):
//
//   initiator                                acceptor
//     HELLO      {id_i, cluster, addr, nonce_i}  ->
//                <-  CHALLENGE {id_a, cluster, addr, nonce_a}
//     AUTH       {HMAC(secret, "kv-bus-v1 initiator" | T)}  ->
//                <-  AUTH_OK {HMAC(secret, "kv-bus-v1 acceptor" | T)}
//                    (or AUTH_FAIL {reason}, then close)
//
// The acceptor proves itself only to an initiator that already proved
// itself, and the role label keeps one side's proof from being replayed as
// the other's. A recorded AUTH is useless on a new link: the acceptor's
// nonce, and so T, differs.
//
// What it does not do: frames after the handshake carry no MAC and nothing
// is encrypted, so the bus must run on a trusted network (as Redis
// Cluster's). The caller closes the link if the handshake is not over
// within its deadline.
//
// Thread safety: one instance per link, loop thread only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "cluster/frame.h"
#include "cluster/messages.h"

namespace kv::cluster {

// Largest frame payload accepted before a link is authenticated, so an
// unauthenticated peer cannot make a node buffer more than this.
constexpr uint32_t kHandshakeMaxPayload = 4096;

// This node's side of every handshake.
struct HandshakeConfig {
  uint64_t node_id = 0;
  std::string cluster_name;
  std::string host;  // client-facing address, announced in HELLO
  uint16_t port = 0;
  uint16_t bus_port = 0;
  std::string secret;  // cluster-secret
};

class Handshake {
 public:
  enum class Role { kInitiator, kAcceptor };
  enum class State { kInProgress, kAuthenticated, kRefused };

  // `peer_address` ("ip:port") only names the peer in reasons. `nonce` must
  // be fresh and unpredictable for every link (getrandom in the server, a
  // seeded Random in tests). `expected_peer_id`: for an initiator dialling
  // a known member, the id it must answer with; 0 accepts any (seeds).
  // `config` must outlive the Handshake.
  Handshake(Role role, const HandshakeConfig& config, std::string peer_address, const Nonce& nonce,
            uint64_t expected_peer_id = 0);

  // Initiator: appends the HELLO frame to *out. Acceptor: does nothing (it
  // speaks when the HELLO arrives). Call once, before anything else.
  void Start(std::string* out);

  // Decodes and handles the frames at the front of `in` (limit
  // kHandshakeMaxPayload), appending frames to send to *out. Returns how
  // many bytes to consume. Consumes nothing more once the state leaves
  // kInProgress: bytes after the last handshake frame belong to the bus.
  // On kRefused, *out may hold an AUTH_FAIL: flush it, then close.
  size_t Receive(std::string_view in, std::string* out);

  // Handles one decoded frame (Receive calls this; tests may too).
  void OnFrame(const FrameView& frame, std::string* out);

  State state() const { return state_; }
  bool done() const { return state_ != State::kInProgress; }
  // Why the link was refused, for the log: names the peer's address.
  const std::string& reason() const { return reason_; }
  // The peer's HELLO (or CHALLENGE); its node_id is the authenticated id
  // once state() is kAuthenticated.
  const Hello& peer() const { return peer_; }
  uint64_t peer_id() const { return peer_.node_id; }

  // The proof `role` sends for the transcript hello_i | hello_a (raw
  // payloads). Exposed for the protocol documentation's test.
  static util::Sha256Digest Proof(std::string_view secret, Role role, std::string_view hello_i,
                                  std::string_view hello_a);

 private:
  enum class Step { kNotStarted, kAwaitHello, kAwaitChallenge, kAwaitAuth, kAwaitAuthOk, kDone };

  void OnHello(const FrameView& frame, std::string* out);
  void OnChallenge(const FrameView& frame, std::string* out);
  void OnAuth(const FrameView& frame, std::string* out);
  void OnAuthOk(const FrameView& frame, std::string* out);
  // Checks a received HELLO/CHALLENGE; false (after refusing) if bad.
  bool CheckPeerHello(const FrameView& frame, const char* what, std::string* out);
  // Refuses the link: `why` goes to our log (reason()), `tell_peer` to the
  // peer in AUTH_FAIL (empty: send nothing).
  void Refuse(std::string why, std::string_view tell_peer, std::string* out);

  const Role role_;
  const HandshakeConfig& config_;
  const std::string peer_address_;
  const uint64_t expected_peer_id_;
  Hello self_;
  std::string self_payload_;  // our HELLO/CHALLENGE payload as sent
  std::string peer_payload_;  // theirs as received
  Hello peer_;
  Step step_ = Step::kNotStarted;
  State state_ = State::kInProgress;
  std::string reason_;
};

}  // namespace kv::cluster
