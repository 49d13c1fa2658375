#include "cluster/frame.h"

#include <cstdio>
#include <cstring>

#include "util/coding.h"
#include "util/crc32c.h"

namespace kv::cluster {

// Header field offsets. DO NOT CHANGE: wire format.
namespace {
constexpr size_t kOffVersion = 4;
constexpr size_t kOffType = 5;
constexpr size_t kOffFlags = 6;
constexpr size_t kOffRequestId = 8;
constexpr size_t kOffLength = 16;
constexpr size_t kOffHeaderCrc = 20;
static_assert(kOffHeaderCrc + 4 == kFrameHeaderSize);

uint16_t DecodeFixed16(const char* p) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) |
                               (static_cast<uint16_t>(static_cast<uint8_t>(p[1])) << 8));
}

std::string Printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    char buf[8];
    snprintf(buf, sizeof(buf), "%02x", c);
    out += buf;
  }
  return out;
}
}  // namespace

std::string FrameTypeName(uint8_t type) {
  switch (static_cast<FrameType>(type)) {
    case FrameType::kHello:
      return "HELLO";
    case FrameType::kChallenge:
      return "CHALLENGE";
    case FrameType::kAuth:
      return "AUTH";
    case FrameType::kAuthOk:
      return "AUTH_OK";
    case FrameType::kAuthFail:
      return "AUTH_FAIL";
    case FrameType::kError:
      return "ERROR";
    case FrameType::kPing:
      return "PING";
    case FrameType::kPong:
      return "PONG";
    case FrameType::kGossip:
      return "GOSSIP";
    case FrameType::kForward:
      return "FORWARD";
    case FrameType::kForwardReply:
      return "FORWARD_REPLY";
    case FrameType::kTransferStep:
      return "TRANSFER_STEP";
    case FrameType::kTransferProgress:
      return "TRANSFER_PROGRESS";
    case FrameType::kTransferRead:
      return "TRANSFER_READ";
    case FrameType::kTransferData:
      return "TRANSFER_DATA";
    case FrameType::kTransferCommit:
      return "TRANSFER_COMMIT";
    case FrameType::kTransferCommitted:
      return "TRANSFER_COMMITTED";
  }
  return "type-" + std::to_string(type);
}

void AppendFrame(std::string* dst, FrameType type, uint16_t flags, uint64_t request_id,
                 std::string_view payload) {
  AppendFrameRaw(dst, static_cast<uint8_t>(type), flags, request_id, payload);
}

void AppendFrameRaw(std::string* dst, uint8_t type, uint16_t flags, uint64_t request_id,
                    std::string_view payload) {
  char h[kFrameHeaderSize];
  memcpy(h, kFrameMagic, 4);
  h[kOffVersion] = static_cast<char>(kFrameVersion);
  h[kOffType] = static_cast<char>(type);
  h[kOffFlags] = static_cast<char>(flags);
  h[kOffFlags + 1] = static_cast<char>(flags >> 8);
  util::EncodeFixed64(h + kOffRequestId, request_id);
  util::EncodeFixed32(h + kOffLength, static_cast<uint32_t>(payload.size()));
  util::EncodeFixed32(h + kOffHeaderCrc, util::crc32c::Mask(util::crc32c::Value(h, kOffHeaderCrc)));
  dst->reserve(dst->size() + kFrameOverhead + payload.size());
  dst->append(h, kFrameHeaderSize);
  dst->append(payload.data(), payload.size());
  util::PutFixed32(dst, util::crc32c::Mask(util::crc32c::Value(payload.data(), payload.size())));
}

Status DecodeFrame(std::string_view in, const FrameLimits& limits, FrameView* frame,
                   size_t* frame_size) {
  *frame_size = 0;
  // Magic and version are checked as soon as their bytes arrive, so a client
  // that speaks RESP or HTTP to the bus port is refused on its first byte.
  const size_t magic_have = in.size() < 4 ? in.size() : 4;
  if (magic_have > 0 && memcmp(in.data(), kFrameMagic, magic_have) != 0) {
    return Status::Corruption("bad magic " + Printable(in.substr(0, magic_have)) +
                              " (expected f04b5642): not a kv bus peer");
  }
  if (in.size() <= kOffVersion) return Status::OK();
  const uint8_t version = static_cast<uint8_t>(in[kOffVersion]);
  if (version != kFrameVersion) {
    return Status::Corruption("unsupported bus frame version " + std::to_string(version) +
                              " (this node speaks " + std::to_string(kFrameVersion) + ")");
  }
  if (in.size() < kFrameHeaderSize) return Status::OK();

  // The header CRC is checked before the length is believed: a flipped bit
  // in the length must not make us wait for (or reserve) gigabytes.
  const uint32_t header_crc = util::crc32c::Unmask(util::DecodeFixed32(in.data() + kOffHeaderCrc));
  if (util::crc32c::Value(in.data(), kOffHeaderCrc) != header_crc) {
    return Status::Corruption("bus frame header CRC mismatch");
  }
  const uint32_t length = util::DecodeFixed32(in.data() + kOffLength);
  if (length > limits.max_payload) {
    return Status::Corruption("bus frame payload length " + std::to_string(length) +
                              " over limit " + std::to_string(limits.max_payload));
  }
  const uint16_t flags = DecodeFixed16(in.data() + kOffFlags);
  if ((flags & ~kKnownFlags) != 0) {
    return Status::Corruption("bus frame has unknown flags 0x" +
                              Printable(in.substr(kOffFlags, 2)));
  }
  const uint64_t request_id = util::DecodeFixed64(in.data() + kOffRequestId);
  if ((flags & kFlagResponse) != 0 && request_id == 0) {
    return Status::Corruption("bus frame is a response to request id 0");
  }
  const uint8_t type = static_cast<uint8_t>(in[kOffType]);
  if (type == 0) return Status::Corruption("bus frame type 0");

  const size_t total = kFrameOverhead + static_cast<size_t>(length);
  if (in.size() < total) return Status::OK();
  const char* payload = in.data() + kFrameHeaderSize;
  const uint32_t payload_crc = util::crc32c::Unmask(util::DecodeFixed32(payload + length));
  if (util::crc32c::Value(payload, length) != payload_crc) {
    return Status::Corruption("bus frame payload CRC mismatch (" + FrameTypeName(type) + ", " +
                              std::to_string(length) + " bytes)");
  }
  frame->version = version;
  frame->type = type;
  frame->flags = flags;
  frame->request_id = request_id;
  frame->payload = std::string_view(payload, length);
  *frame_size = total;
  return Status::OK();
}

}  // namespace kv::cluster
