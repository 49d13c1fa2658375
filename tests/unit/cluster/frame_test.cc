// Cluster bus frames and payloads: round trips of every message type with
// random contents, the documented byte layout (PROTOCOL.md's worked
// example), and refusal of every truncated, bit-flipped, oversized or
// otherwise corrupt frame and payload.
#include "cluster/frame.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "../test_util.h"
#include "cluster/messages.h"
#include "util/buffer.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/random.h"

namespace kv::cluster {
namespace {

using test::Hex;
using test::RandomBytes;

Nonce RandomNonce(util::Random* rnd) {
  Nonce n;
  for (uint8_t& b : n) b = static_cast<uint8_t>(rnd->Next());
  return n;
}

Hello RandomHello(util::Random* rnd) {
  Hello h;
  h.node_id = rnd->Next();
  h.cluster_name = RandomBytes(rnd, 20);
  h.host = RandomBytes(rnd, 40);
  h.port = static_cast<uint16_t>(rnd->Next());
  h.bus_port = static_cast<uint16_t>(rnd->Next());
  h.nonce = RandomNonce(rnd);
  return h;
}

Gossip RandomGossip(util::Random* rnd) {
  Gossip g;
  const size_t n = rnd->Uniform(6);
  for (size_t i = 0; i < n; i++) {
    MemberDigest d;
    d.node_id = rnd->Next();
    d.host = RandomBytes(rnd, 30);
    d.port = static_cast<uint16_t>(rnd->Next());
    d.bus_port = static_cast<uint16_t>(rnd->Next());
    d.zone = RandomBytes(rnd, 10);
    d.weight = static_cast<uint32_t>(rnd->Next());
    d.heartbeat = rnd->Next();
    d.state = static_cast<MemberState>(rnd->Uniform(kMaxMemberState + 1));
    d.ring_epoch = rnd->Next();
    g.members.push_back(d);
  }
  if (rnd->Uniform(2) == 0) g.ring = RandomBytes(rnd, 300);
  return g;
}

Forward RandomForward(util::Random* rnd) {
  Forward f;
  f.flags = static_cast<uint32_t>(rnd->Next());
  const size_t n = 1 + rnd->Uniform(6);
  for (size_t i = 0; i < n; i++) f.argv.push_back(RandomBytes(rnd, 50));
  return f;
}

// One frame of each message type with random contents and request ids.
struct Sample {
  FrameType type;
  uint16_t flags;
  uint64_t request_id;
  std::string payload;
};

std::vector<Sample> RandomSamples(util::Random* rnd) {
  std::vector<Sample> out;
  auto add = [&](FrameType t, const auto& msg, bool request) {
    Sample s{t, 0, 0, ""};
    if (request) {
      s.request_id = rnd->Next() | 1;
      if (rnd->Uniform(2) == 0) s.flags = kFlagResponse;
    }
    msg.EncodeTo(&s.payload);
    out.push_back(std::move(s));
  };
  add(FrameType::kHello, RandomHello(rnd), false);
  add(FrameType::kChallenge, RandomHello(rnd), false);
  AuthProof proof;
  for (uint8_t& b : proof.proof) b = static_cast<uint8_t>(rnd->Next());
  add(FrameType::kAuth, proof, false);
  add(FrameType::kAuthOk, proof, false);
  add(FrameType::kAuthFail, AuthFail{RandomBytes(rnd, 100)}, false);
  add(FrameType::kError, ErrorMsg{static_cast<uint16_t>(rnd->Next()), RandomBytes(rnd, 100)}, true);
  add(FrameType::kPing, Ping{rnd->Next()}, true);
  add(FrameType::kPong, Ping{rnd->Next()}, true);
  add(FrameType::kGossip, RandomGossip(rnd), false);
  add(FrameType::kForward, RandomForward(rnd), true);
  add(FrameType::kForwardReply, ForwardReply{RandomBytes(rnd, 200)}, true);
  return out;
}

std::string Encode(const Sample& s) {
  std::string out;
  AppendFrame(&out, s.type, s.flags, s.request_id, s.payload);
  return out;
}

// Decodes a payload into the message type its frame type names and
// re-encodes it: equal bytes mean every field survived.
std::string Reencode(uint8_t type, std::string_view payload) {
  std::string out;
  auto roundtrip = [&](auto msg) {
    Status s = msg.Decode(payload);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    msg.EncodeTo(&out);
  };
  switch (static_cast<FrameType>(type)) {
    case FrameType::kHello:
    case FrameType::kChallenge:
      roundtrip(Hello{});
      break;
    case FrameType::kAuth:
    case FrameType::kAuthOk:
      roundtrip(AuthProof{});
      break;
    case FrameType::kAuthFail:
      roundtrip(AuthFail{});
      break;
    case FrameType::kError:
      roundtrip(ErrorMsg{});
      break;
    case FrameType::kPing:
    case FrameType::kPong:
      roundtrip(Ping{});
      break;
    case FrameType::kGossip:
      roundtrip(Gossip{});
      break;
    case FrameType::kForward:
      roundtrip(Forward{});
      break;
    case FrameType::kForwardReply:
      roundtrip(ForwardReply{});
      break;
    // Covered by transfer_messages_test.cc.
    case FrameType::kTransferStep:
    case FrameType::kTransferProgress:
    case FrameType::kTransferRead:
    case FrameType::kTransferData:
    case FrameType::kTransferCommit:
    case FrameType::kTransferCommitted:
      break;
  }
  return out;
}

Status Decode(std::string_view in, FrameView* f, size_t* n, uint32_t limit = 64u << 20) {
  FrameLimits limits;
  limits.max_payload = limit;
  return DecodeFrame(in, limits, f, n);
}

TEST_CASE("every message type round trips through frame and payload codecs") {
  util::Random rnd(kv::test::TestSeed(20240601));
  for (int iter = 0; iter < 200; iter++) {
    for (const Sample& s : RandomSamples(&rnd)) {
      CAPTURE(FrameTypeName(static_cast<uint8_t>(s.type)));
      const std::string wire = Encode(s);
      REQUIRE(wire.size() == kFrameOverhead + s.payload.size());
      FrameView f;
      size_t n = 0;
      Status st = Decode(wire, &f, &n);
      REQUIRE_MESSAGE(st.ok(), st.ToString());
      REQUIRE(n == wire.size());
      CHECK(f.version == kFrameVersion);
      CHECK(f.type == static_cast<uint8_t>(s.type));
      CHECK(f.flags == s.flags);
      CHECK(f.request_id == s.request_id);
      CHECK(f.payload == s.payload);
      CHECK(Reencode(f.type, f.payload) == s.payload);
    }
  }
}

TEST_CASE("decoded messages equal the encoded structs field by field") {
  util::Random rnd(kv::test::TestSeed(99));
  const Hello h = RandomHello(&rnd);
  std::string p;
  h.EncodeTo(&p);
  Hello h2;
  REQUIRE(h2.Decode(p).ok());
  CHECK(h2.node_id == h.node_id);
  CHECK(h2.cluster_name == h.cluster_name);
  CHECK(h2.host == h.host);
  CHECK(h2.port == h.port);
  CHECK(h2.bus_port == h.bus_port);
  CHECK(h2.nonce == h.nonce);

  Gossip g = RandomGossip(&rnd);
  g.ring = std::string("ring\0blob", 9);
  p.clear();
  g.EncodeTo(&p);
  Gossip g2;
  REQUIRE(g2.Decode(p).ok());
  CHECK(g2.members == g.members);
  CHECK(g2.ring == g.ring);
  g.ring.reset();
  p.clear();
  g.EncodeTo(&p);
  REQUIRE(g2.Decode(p).ok());
  CHECK_FALSE(g2.ring.has_value());

  const Forward f = RandomForward(&rnd);
  p.clear();
  f.EncodeTo(&p);
  Forward f2;
  REQUIRE(f2.Decode(p).ok());
  CHECK(kv::test::Show(f2.argv) == kv::test::Show(f.argv));
  CHECK(f2.flags == f.flags);
}

TEST_CASE("frame layout matches PROTOCOL.md's worked example") {
  // PING, request id 7, token 0x0102030405060708.
  std::string wire;
  AppendMessage(&wire, FrameType::kPing, Ping{0x0102030405060708ULL}, 7);
  CHECK(Hex(wire) ==
        "f04b5642"          // magic
        "01"                // version
        "10"                // type PING
        "0000"              // flags
        "0700000000000000"  // request id 7
        "08000000"          // payload length 8
        "423093b9"          // masked CRC32C of the 20 bytes above
        "0807060504030201"  // token
        "ca38bba6");        // masked CRC32C of the payload
  CHECK(util::DecodeFixed32(wire.data() + 20) ==
        util::crc32c::Mask(util::crc32c::Value(wire.data(), 20)));
  CHECK(util::DecodeFixed32(wire.data() + 32) ==
        util::crc32c::Mask(util::crc32c::Value(wire.data() + 24, 8)));
}

TEST_CASE("HELLO frame matches PROTOCOL.md's worked example") {
  Hello h;
  h.node_id = 1;
  h.cluster_name = "kv";
  h.host = "127.0.0.1";
  h.port = 7001;
  h.bus_port = 17001;
  for (size_t i = 0; i < h.nonce.size(); i++) h.nonce[i] = static_cast<uint8_t>(i);
  std::string wire;
  AppendMessage(&wire, FrameType::kHello, h);
  CHECK(Hex(wire) ==
        "f04b5642010100000000000000000000390000"
        "00b094c508"
        "0100000000000000"
        "026b76"
        "093132372e302e302e31"
        "591b"
        "6942"
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        "2e5b8b5f");
}

TEST_CASE("every truncation of a valid frame asks for more bytes and never yields a frame") {
  util::Random rnd(kv::test::TestSeed(5));
  for (const Sample& s : RandomSamples(&rnd)) {
    const std::string wire = Encode(s);
    for (size_t len = 0; len < wire.size(); len++) {
      CAPTURE(len);
      FrameView f;
      size_t n = 12345;
      Status st = Decode(std::string_view(wire.data(), len), &f, &n);
      REQUIRE_MESSAGE(st.ok(), st.ToString());
      REQUIRE(n == 0);
    }
  }
}

TEST_CASE("every single-byte and single-bit corruption of a frame is rejected") {
  util::Random rnd(kv::test::TestSeed(6));
  for (const Sample& s : RandomSamples(&rnd)) {
    const std::string wire = Encode(s);
    for (size_t i = 0; i < wire.size(); i++) {
      for (int mask : {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff}) {
        std::string bad = wire;
        bad[i] = static_cast<char>(bad[i] ^ mask);
        CAPTURE(i);
        CAPTURE(mask);
        FrameView f;
        size_t n = 0;
        Status st = Decode(bad, &f, &n);
        // A flip in the length field can only be refused once the header
        // CRC is read; it never yields a frame, nor waits for more bytes.
        REQUIRE(st.IsCorruption());
        REQUIRE(n == 0);
      }
    }
  }
}

TEST_CASE("corruption messages name what is wrong") {
  std::string wire;
  AppendMessage(&wire, FrameType::kPing, Ping{42}, 3);
  FrameView f;
  size_t n;
  auto error_of = [&](std::string bad) {
    Status st = Decode(bad, &f, &n);
    CHECK(st.IsCorruption());
    return st.message();
  };
  std::string b = wire;
  b[0] = 'X';
  CHECK(error_of(b).find("bad magic") != std::string::npos);
  b = wire;
  b[4] = 2;
  CHECK(error_of(b).find("unsupported bus frame version 2") != std::string::npos);
  b = wire;
  b[16] ^= 1;
  CHECK(error_of(b).find("header CRC mismatch") != std::string::npos);
  b = wire;
  b[24] ^= 1;
  CHECK(error_of(b).find("payload CRC mismatch") != std::string::npos);
  b = wire;
  b[wire.size() - 1] ^= 1;
  CHECK(error_of(b).find("payload CRC mismatch") != std::string::npos);

  // RESP or HTTP sent to the bus port is refused at its first byte.
  CHECK(error_of("*").find("bad magic") != std::string::npos);
  CHECK(error_of("GET / HTTP/1.1\r\n").find("bad magic") != std::string::npos);
  // Version 2 is refused as soon as the version byte arrives.
  b = wire.substr(0, 5);
  b[4] = 2;
  CHECK(error_of(b).find("version 2") != std::string::npos);
}

// A header announcing `length` with a correct header CRC and no payload.
std::string HeaderOnly(uint8_t type, uint16_t flags, uint64_t request_id, uint32_t length) {
  std::string wire;
  AppendFrameRaw(&wire, type, flags, request_id, "");
  wire.resize(kFrameHeaderSize);
  util::EncodeFixed32(wire.data() + 16, length);
  util::EncodeFixed32(wire.data() + 20, util::crc32c::Mask(util::crc32c::Value(wire.data(), 20)));
  return wire;
}

TEST_CASE("a frame announcing an oversized payload is refused from its header alone") {
  FrameView f;
  size_t n = 0;
  // The limit itself is fine: the decoder asks for the rest.
  Status st = Decode(HeaderOnly(16, 0, 0, 1000), &f, &n, 1000);
  CHECK(st.ok());
  CHECK(n == 0);
  st = Decode(HeaderOnly(16, 0, 0, 1001), &f, &n, 1000);
  CHECK(st.IsCorruption());
  CHECK(st.message() == "bus frame payload length 1001 over limit 1000");
  // 4 GiB - 1 against the default limit: refused with 24 bytes in hand
  // (DecodeFrame never allocates, so nothing was reserved either).
  st = Decode(HeaderOnly(16, 0, 0, 0xffffffffu), &f, &n);
  CHECK(st.IsCorruption());
  CHECK(st.message().find("over limit 67108864") != std::string::npos);
}

TEST_CASE("unknown flags, a response to request 0 and type 0 are refused; unknown types pass") {
  FrameView f;
  size_t n = 0;
  std::string wire;
  AppendFrameRaw(&wire, 16, 0x8000, 1, "");
  CHECK(Decode(wire, &f, &n).IsCorruption());
  wire.clear();
  AppendFrameRaw(&wire, 16, kFlagResponse, 0, "");
  Status st = Decode(wire, &f, &n);
  CHECK(st.IsCorruption());
  CHECK(st.message().find("request id 0") != std::string::npos);
  wire.clear();
  AppendFrameRaw(&wire, 0, 0, 0, "");
  CHECK(Decode(wire, &f, &n).IsCorruption());

  wire.clear();
  AppendFrameRaw(&wire, 200, 0, 9, "future");
  REQUIRE(Decode(wire, &f, &n).ok());
  CHECK(n == wire.size());
  CHECK(f.type == 200);
  CHECK(f.payload == "future");
  CHECK(FrameTypeName(200) == "type-200");
  CHECK(FrameTypeName(18) == "GOSSIP");
}

TEST_CASE("frames back to back and split across many small reads decode in order") {
  util::Random rnd(kv::test::TestSeed(11));
  std::vector<Sample> samples;
  std::string stream;
  for (int i = 0; i < 20; i++) {
    for (Sample& s : RandomSamples(&rnd)) {
      stream += Encode(s);
      samples.push_back(std::move(s));
    }
  }
  // Back to back in one buffer.
  {
    std::string_view in = stream;
    for (const Sample& s : samples) {
      FrameView f;
      size_t n = 0;
      REQUIRE(Decode(in, &f, &n).ok());
      REQUIRE(n > 0);
      REQUIRE(f.payload == s.payload);
      in.remove_prefix(n);
    }
    CHECK(in.empty());
  }
  // Fed 1..13 bytes at a time into a util::Buffer, as a socket would.
  util::Buffer buf;
  size_t fed = 0, next = 0;
  while (fed < stream.size() || !buf.empty()) {
    if (fed < stream.size()) {
      size_t chunk = 1 + rnd.Uniform(13);
      if (chunk > stream.size() - fed) chunk = stream.size() - fed;
      buf.Append(stream.data() + fed, chunk);
      fed += chunk;
    }
    for (;;) {
      FrameView f;
      size_t n = 0;
      Status st = Decode(buf.view(), &f, &n);
      REQUIRE_MESSAGE(st.ok(), st.ToString());
      if (n == 0) break;
      REQUIRE(next < samples.size());
      CHECK(f.type == static_cast<uint8_t>(samples[next].type));
      CHECK(f.request_id == samples[next].request_id);
      CHECK(f.payload == samples[next].payload);
      next++;
      buf.Consume(n);
    }
    if (fed == stream.size() && !buf.empty()) FAIL("bytes left over: " << buf.size());
  }
  CHECK(next == samples.size());
}

TEST_CASE("every truncated payload is Corruption naming the message") {
  util::Random rnd(kv::test::TestSeed(12));
  for (const Sample& s : RandomSamples(&rnd)) {
    CAPTURE(FrameTypeName(static_cast<uint8_t>(s.type)));
    for (size_t len = 0; len < s.payload.size(); len++) {
      CAPTURE(len);
      std::string_view cut(s.payload.data(), len);
      Status st;
      switch (s.type) {
        case FrameType::kHello:
        case FrameType::kChallenge:
          st = Hello{}.Decode(cut);
          break;
        case FrameType::kAuth:
        case FrameType::kAuthOk:
          st = AuthProof{}.Decode(cut);
          break;
        case FrameType::kAuthFail:
          st = AuthFail{}.Decode(cut);
          break;
        case FrameType::kError:
          st = ErrorMsg{}.Decode(cut);
          break;
        case FrameType::kPing:
        case FrameType::kPong:
          st = Ping{}.Decode(cut);
          break;
        case FrameType::kGossip:
          st = Gossip{}.Decode(cut);
          break;
        case FrameType::kForward:
          st = Forward{}.Decode(cut);
          break;
        case FrameType::kForwardReply:
          st = ForwardReply{}.Decode(cut);
          break;
        // Covered by transfer_messages_test.cc.
        case FrameType::kTransferStep:
        case FrameType::kTransferProgress:
        case FrameType::kTransferRead:
        case FrameType::kTransferData:
        case FrameType::kTransferCommit:
        case FrameType::kTransferCommitted:
          break;
      }
      REQUIRE(st.IsCorruption());
      REQUIRE(st.message().find("payload") != std::string::npos);
    }
  }
}

TEST_CASE("payload decoders ignore trailing fields they do not know") {
  util::Random rnd(kv::test::TestSeed(13));
  for (const Sample& s : RandomSamples(&rnd)) {
    CAPTURE(FrameTypeName(static_cast<uint8_t>(s.type)));
    const std::string longer = s.payload + "\x01\x02new-field";
    CHECK(Reencode(static_cast<uint8_t>(s.type), longer) == s.payload);
  }
  // Also inside a gossip member digest.
  std::string member;
  util::PutFixed64(&member, 77);
  util::PutLengthPrefixed(&member, "h");
  member += std::string("\x01\x00\x02\x00", 4);
  util::PutLengthPrefixed(&member, "z");
  util::PutFixed32(&member, 5);
  util::PutFixed64(&member, 6);
  member += '\x01';
  util::PutFixed64(&member, 8);
  member += "extra";
  std::string p;
  util::PutVarint64(&p, 1);
  util::PutLengthPrefixed(&p, member);
  p += '\0';
  Gossip g;
  REQUIRE(g.Decode(p).ok());
  REQUIRE(g.members.size() == 1);
  CHECK(g.members[0].node_id == 77);
  CHECK(g.members[0].bus_port == 2);
  CHECK(g.members[0].state == MemberState::kNormal);
  CHECK(g.members[0].ring_epoch == 8);
}

TEST_CASE("garbage counts, enum values and empty argv are Corruption without big allocations") {
  std::string p;
  util::PutVarint64(&p, 1ULL << 60);  // members count
  p += "tiny";
  Gossip g;
  Status st = g.Decode(p);
  CHECK(st.IsCorruption());
  CHECK(st.message().find("count") != std::string::npos);

  p.clear();
  util::PutFixed32(&p, 0);
  util::PutVarint64(&p, 1000);  // argv count with 3 bytes left
  p += "abc";
  Forward f;
  CHECK(f.Decode(p).IsCorruption());

  p.clear();
  util::PutFixed32(&p, 0);
  util::PutVarint64(&p, 0);
  st = f.Decode(p);
  CHECK(st.IsCorruption());
  CHECK(st.message().find("empty argv") != std::string::npos);

  // Member state 5 is not a state.
  MemberDigest d;
  d.state = static_cast<MemberState>(5);
  Gossip bad;
  bad.members.push_back(d);
  p.clear();
  bad.EncodeTo(&p);
  st = g.Decode(p);
  CHECK(st.IsCorruption());
  CHECK(st.message().find("unknown member state 5") != std::string::npos);

  // has_ring must be 0 or 1.
  p.clear();
  util::PutVarint64(&p, 0);
  p += '\x02';
  CHECK(g.Decode(p).IsCorruption());

  // A varint longer than 10 bytes as a string length.
  p = std::string(11, '\xff');
  CHECK(ForwardReply{}.Decode(p).IsCorruption());
}

}  // namespace
}  // namespace kv::cluster
