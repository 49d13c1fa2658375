// Frame: the unit of the cluster bus. Every bus message travels as one
// length-prefixed, checksummed frame (cluster/PROTOCOL.md, "Frame"):
//
//   magic "\xF0KVB" | version u8 | type u8 | flags u16 | request_id u64 |
//   payload_length u32 | header_crc u32 | payload | payload_crc u32
//
// DecodeFrame parses in place (Pelikan style): it consumes nothing until a
// whole frame is there, checks magic, version, header CRC and the length
// limit from the 24 header bytes alone, so a corrupt or hostile length is
// refused before anything waits for, or allocates, that many bytes.
//
// Thread safety: pure functions and values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace kv::cluster {

using util::Status;

// DO NOT CHANGE: these constants are the wire format.
constexpr char kFrameMagic[4] = {'\xF0', 'K', 'V', 'B'};
constexpr uint8_t kFrameVersion = 1;
constexpr size_t kFrameHeaderSize = 24;  // magic .. header_crc
constexpr size_t kFrameTrailerSize = 4;  // payload_crc
constexpr size_t kFrameOverhead = kFrameHeaderSize + kFrameTrailerSize;

// Frame flag bits. Bits not defined here must be zero; a frame with any
// other bit set is refused (a later version may give them meaning that an
// old reader must not silently ignore).
constexpr uint16_t kFlagResponse = 1u << 0;  // answers the peer's request_id
constexpr uint16_t kKnownFlags = kFlagResponse;

// Message types (PROTOCOL.md, "Types"). The frame layer passes any type
// number up; the receiver answers an unknown request with ERROR
// kUnknownType and drops an unknown one-way frame, so new types can be added
// without a version bump. Ranges marked reserved are taken by planned
// messages and must not be reused.
enum class FrameType : uint8_t {
  kHello = 1,      // initiator's identity and nonce (first frame on a link)
  kChallenge = 2,  // acceptor's identity and nonce
  kAuth = 3,       // initiator's proof of the cluster-secret
  kAuthOk = 4,     // acceptor's proof; the link is authenticated
  kAuthFail = 5,   // handshake refused, with a reason; then close
  kError = 8,      // a request failed: code + message
  kPing = 16,
  kPong = 17,
  kGossip = 18,
  kForward = 32,       // a client command run at another node
  kForwardReply = 33,  // its RESP reply
  // 48-63 reserved: replica put/get. 64-79: hinted handoff. 80-95: Merkle sync.
  // 96-111: partition streaming (PROTOCOL.md, "Partition transfer").
  kTransferStep = 96,        // coordinator -> new owner: do one step of moving a partition
  kTransferProgress = 97,    // its reply
  kTransferRead = 98,        // new owner -> old owner: a batch of a partition's records
  kTransferData = 99,        // its reply
  kTransferCommit = 100,     // coordinator -> old owner: the ring that hands the partition over
  kTransferCommitted = 101,  // its reply (empty payload)
  // 102-111 reserved: partition streaming. 0 is never a valid type.
};

// Printable name ("HELLO", "GOSSIP", "type-77" for unknown ones), for logs.
std::string FrameTypeName(uint8_t type);

struct FrameLimits {
  // Largest payload accepted (checked before waiting for it). The default
  // is for authenticated links; the handshake uses kHandshakeMaxPayload
  // (cluster/handshake.h), so an unauthenticated peer cannot make us buffer
  // more than a few KiB.
  uint32_t max_payload = 64u << 20;
};

// A decoded frame. `payload` points into the buffer given to DecodeFrame
// and is valid as long as those bytes are.
struct FrameView {
  uint8_t version = kFrameVersion;
  uint8_t type = 0;  // a FrameType value, or one this build does not know
  uint16_t flags = 0;
  uint64_t request_id = 0;  // 0 = one-way
  std::string_view payload;

  bool is_response() const { return (flags & kFlagResponse) != 0; }
};

// Appends one frame to *dst. REQUIRES: payload.size() <= UINT32_MAX (the
// receiver's limit is its own business: it refuses what is over it).
void AppendFrame(std::string* dst, FrameType type, uint16_t flags, uint64_t request_id,
                 std::string_view payload);
// Same with a raw type number (tests, and answering unknown types).
void AppendFrameRaw(std::string* dst, uint8_t type, uint16_t flags, uint64_t request_id,
                    std::string_view payload);

// Decodes the frame at the front of `in`.
//  - OK, *frame_size == 0: `in` holds a valid prefix of a frame; read more.
//    Nothing to consume.
//  - OK, *frame_size > 0: *frame is the first frame, which takes the first
//    *frame_size bytes of `in`; consume them after using *frame.
//  - Corruption: the stream cannot be trusted (bad magic, unsupported
//    version, header or payload CRC mismatch, length over the limit, unknown
//    flags, a response with request id 0). There is no resynchronisation:
//    the caller closes the link. The message says what was wrong.
// Never reads outside `in`, never allocates.
[[nodiscard]] Status DecodeFrame(std::string_view in, const FrameLimits& limits, FrameView* frame,
                                 size_t* frame_size);

}  // namespace kv::cluster
