// Payloads of the cluster bus frames (cluster/PROTOCOL.md, "Payloads"): one
// plain struct per message, with EncodeTo and Decode.
//
// Encoding rules, shared by every payload: integers are little-endian
// fixed-width (u8, u16, u32, u64); `bytes` is a varint length then the
// bytes; a list is a varint count, then each element as `bytes` (so an
// element can grow later too). Decode checks every length and count against
// the bytes left before reading or reserving, validates enum values, and
// returns Corruption naming the message and field on truncation or garbage.
// Bytes after the last field this build knows are ignored: within frame
// version 1 a message may only grow by appending fields (forward
// compatibility); a field is never removed or reinterpreted.
//
// Thread safety: values.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/frame.h"
#include "util/sha256.h"

namespace kv::cluster {

constexpr size_t kNonceSize = 32;
using Nonce = std::array<uint8_t, kNonceSize>;

// HELLO (initiator -> acceptor) and CHALLENGE (acceptor -> initiator): who
// the sender is and a fresh random nonce for this link.
struct Hello {
  uint64_t node_id = 0;
  std::string cluster_name;
  std::string host;  // client-facing address peers and clients use
  uint16_t port = 0;
  uint16_t bus_port = 0;
  Nonce nonce{};

  void EncodeTo(std::string* dst) const;
  [[nodiscard]] Status Decode(std::string_view in, const char* what = "HELLO");
};

// AUTH (initiator's) and AUTH_OK (acceptor's): HMAC-SHA256 proofs of the
// cluster-secret over the handshake transcript (cluster/handshake.h).
struct AuthProof {
  util::Sha256Digest proof{};

  void EncodeTo(std::string* dst) const;
  [[nodiscard]] Status Decode(std::string_view in, const char* what = "AUTH");
};

// AUTH_FAIL: why the handshake was refused, for the peer's log.
struct AuthFail {
  std::string reason;

  void EncodeTo(std::string* dst) const;
  [[nodiscard]] Status Decode(std::string_view in);
};

// PING and PONG: a PONG echoes the PING's token (the sender's monotonic
// time, typically, to measure round trips).
struct Ping {
  uint64_t token = 0;

  void EncodeTo(std::string* dst) const;
  [[nodiscard]] Status Decode(std::string_view in, const char* what = "PING");
};

// Membership states, in the order a node normally goes through them.
// DO NOT CHANGE the values: wire format.
enum class MemberState : uint8_t { kJoining = 0, kNormal = 1, kLeaving = 2, kDown = 3, kLeft = 4 };
constexpr uint8_t kMaxMemberState = 4;
const char* MemberStateName(MemberState s);

// One member as the sender sees it (DESIGN.md section 5, failure detection).
struct MemberDigest {
  uint64_t node_id = 0;
  std::string host;
  uint16_t port = 0;
  uint16_t bus_port = 0;
  std::string zone;
  uint32_t weight = 0;
  uint64_t heartbeat = 0;
  MemberState state = MemberState::kJoining;
  uint64_t ring_epoch = 0;

  bool operator==(const MemberDigest&) const = default;
};

// GOSSIP: the sender's membership digest, and optionally its ring (an
// opaque blob that ring/ encodes; absent when the receiver's epoch is
// known to be current).
struct Gossip {
  std::vector<MemberDigest> members;
  std::optional<std::string> ring;

  void EncodeTo(std::string* dst) const;
  [[nodiscard]] Status Decode(std::string_view in);
};

// FORWARD: a client command to run at the receiving node (the key's
// coordinating replica), as binary-safe argv. `flags` is reserved for the
// coordinator; senders set 0 and receivers ignore bits they do not know.
struct Forward {
  uint32_t flags = 0;
  std::vector<std::string> argv;
  // The sender's ring epoch (0: not sent, an older sender). A receiver
  // that does not own the keys reroutes only if its ring is newer.
  uint64_t ring_epoch = 0;

  void EncodeTo(std::string* dst) const;
  [[nodiscard]] Status Decode(std::string_view in);
};

// FORWARD_REPLY: the command's reply, as the RESP bytes the receiving node
// would have written to a client (copied verbatim to the original client).
struct ForwardReply {
  std::string resp;

  void EncodeTo(std::string* dst) const;
  [[nodiscard]] Status Decode(std::string_view in);
};

// ERROR: a request could not be served. Sent as a response (same request
// id, kFlagResponse) in place of the normal reply.
enum class ErrorCode : uint16_t {
  kUnknownType = 1,  // this node does not know the request's frame type
  kMalformed = 2,    // the payload did not decode
  kNotReady = 3,     // e.g. still joining, cannot serve this yet
  kInternal = 4,     // anything else; see the message
};
struct ErrorMsg {
  uint16_t code = 0;  // an ErrorCode; unknown codes are passed up as is
  std::string message;

  void EncodeTo(std::string* dst) const;
  [[nodiscard]] Status Decode(std::string_view in);
};

// Partition transfer (PROTOCOL.md, "Partition transfer"): the coordinator
// steps the new owner through the phases of moving one partition; the new
// owner pulls the records from the old owner; the coordinator then hands the
// partition over with a ring in TRANSFER_COMMIT.
//
// The phases, in order. DO NOT CHANGE the values: wire format.
enum class TransferPhase : uint8_t { kClear = 0, kCopy = 1, kCatchUp = 2, kHandoff = 3 };
constexpr uint8_t kMaxTransferPhase = 3;
// "clear", "copy", "catch-up", "handoff" ("unknown" for other values).
const char* TransferPhaseName(TransferPhase p);

// TRANSFER_STEP (coordinator -> new owner): do one bounded step of `phase`
// for `partition` of a ring of `partitions` partitions, pulling from
// `source`, going on from `cursor`.
struct TransferStep {
  uint32_t partition = 0;
  uint32_t partitions = 0;  // Q of the ring the move belongs to
  uint64_t source = 0;      // the old owner's node id
  TransferPhase phase = TransferPhase::kClear;
  std::string cursor;      // storage key to go on from; empty = from the start
  uint32_t max_bytes = 0;  // batch budget

  void EncodeTo(std::string* dst) const;
  [[nodiscard]] Status Decode(std::string_view in);
};

// TRANSFER_PROGRESS: the new owner's answer to a TRANSFER_STEP.
struct TransferProgress {
  bool done = false;     // this phase is finished
  std::string cursor;    // where the next step of this phase goes on
  uint64_t records = 0;  // records carried by this step
  uint64_t bytes = 0;    // their size (keys + records)

  void EncodeTo(std::string* dst) const;
  [[nodiscard]] Status Decode(std::string_view in);
};

// TRANSFER_READ (new owner -> old owner): the next batch of `phase` (copy,
// catch-up or handoff) for `partition`, from `cursor`, of at most about
// `max_bytes`.
struct TransferRead {
  uint32_t partition = 0;
  uint32_t partitions = 0;  // Q of the ring the move belongs to
  TransferPhase phase = TransferPhase::kCopy;
  std::string cursor;  // storage key to go on from; empty = from the start
  uint32_t max_bytes = 0;

  void EncodeTo(std::string* dst) const;
  [[nodiscard]] Status Decode(std::string_view in);
};

// One key of a TRANSFER_DATA batch.
struct TransferRecord {
  std::string key;      // storage key (2-byte slot + user key)
  bool present = true;  // false: the key was deleted at the source
  std::string record;   // the encoded record (empty when !present, or Corruption)

  bool operator==(const TransferRecord&) const = default;
};

// TRANSFER_DATA: the old owner's answer to a TRANSFER_READ.
struct TransferData {
  bool done = false;   // the phase is finished at the old owner
  std::string cursor;  // where the next TRANSFER_READ of this phase goes on
  std::vector<TransferRecord> records;

  void EncodeTo(std::string* dst) const;
  [[nodiscard]] Status Decode(std::string_view in);
};

// TRANSFER_COMMIT (coordinator -> old owner): the ring that gives
// `partition` to its new owner. The old owner installs it, lets the writes
// it held run, and answers TRANSFER_COMMITTED, whose payload is empty (no
// struct: a receiver ignores whatever bytes it carries).
struct TransferCommit {
  uint32_t partition = 0;
  std::string ring;  // ring/ encoding (ring/FORMAT.md)

  void EncodeTo(std::string* dst) const;
  [[nodiscard]] Status Decode(std::string_view in);
};

// Encodes `msg` as the payload of one frame appended to *dst.
template <typename Msg>
void AppendMessage(std::string* dst, FrameType type, const Msg& msg, uint64_t request_id = 0,
                   uint16_t flags = 0) {
  std::string payload;
  msg.EncodeTo(&payload);
  AppendFrame(dst, type, flags, request_id, payload);
}

}  // namespace kv::cluster
