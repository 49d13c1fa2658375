// Partition transfer messages (TRANSFER_STEP .. TRANSFER_COMMITTED): round
// trips with random contents, the byte layout of PROTOCOL.md's examples, and
// refusal of every truncated payload, unknown phase, non-boolean flag byte
// and impossible record count.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "../test_util.h"
#include "cluster/frame.h"
#include "cluster/messages.h"
#include "util/coding.h"
#include "util/random.h"

namespace kv::cluster {
namespace {

using test::Hex;
using test::RandomBytes;

TransferPhase RandomPhase(util::Random* rnd) {
  return static_cast<TransferPhase>(rnd->Uniform(kMaxTransferPhase + 1));
}

TransferStep RandomStep(util::Random* rnd) {
  TransferStep m;
  m.partition = static_cast<uint32_t>(rnd->Next());
  m.partitions = static_cast<uint32_t>(rnd->Next());
  m.source = rnd->Next();
  m.phase = RandomPhase(rnd);
  m.cursor = RandomBytes(rnd, 40);
  m.max_bytes = static_cast<uint32_t>(rnd->Next());
  return m;
}

TransferProgress RandomProgress(util::Random* rnd) {
  TransferProgress m;
  m.done = rnd->Uniform(2) == 1;
  m.cursor = RandomBytes(rnd, 40);
  m.records = rnd->Next();
  m.bytes = rnd->Next();
  return m;
}

TransferRead RandomRead(util::Random* rnd) {
  TransferRead m;
  m.partition = static_cast<uint32_t>(rnd->Next());
  m.partitions = static_cast<uint32_t>(rnd->Next());
  m.phase = RandomPhase(rnd);
  m.cursor = RandomBytes(rnd, 40);
  m.max_bytes = static_cast<uint32_t>(rnd->Next());
  return m;
}

TransferData RandomData(util::Random* rnd) {
  TransferData m;
  m.done = rnd->Uniform(2) == 1;
  m.cursor = RandomBytes(rnd, 40);
  const size_t n = rnd->Uniform(8);
  for (size_t i = 0; i < n; i++) {
    TransferRecord r;
    r.key = RandomBytes(rnd, 30);
    r.present = rnd->Uniform(3) != 0;
    if (r.present) r.record = RandomBytes(rnd, 200);
    m.records.push_back(std::move(r));
  }
  return m;
}

TransferCommit RandomCommit(util::Random* rnd) {
  TransferCommit m;
  m.partition = static_cast<uint32_t>(rnd->Next());
  m.ring = RandomBytes(rnd, 500);
  return m;
}

template <typename Msg>
std::string Encoded(const Msg& m) {
  std::string out;
  m.EncodeTo(&out);
  return out;
}

// Every proper prefix of `payload` must decode to Corruption naming `what`.
template <typename Msg>
void CheckEveryTruncationRefused(const std::string& payload, const char* what) {
  CAPTURE(what);
  for (size_t len = 0; len < payload.size(); len++) {
    CAPTURE(len);
    Msg m;
    Status st = m.Decode(std::string_view(payload.data(), len));
    REQUIRE(st.IsCorruption());
    REQUIRE(st.message().find(std::string(what) + " payload") != std::string::npos);
  }
}

TEST_CASE("transfer frame types have their names and documented numbers") {
  CHECK(static_cast<int>(FrameType::kTransferStep) == 96);
  CHECK(static_cast<int>(FrameType::kTransferCommitted) == 101);
  CHECK(FrameTypeName(96) == "TRANSFER_STEP");
  CHECK(FrameTypeName(97) == "TRANSFER_PROGRESS");
  CHECK(FrameTypeName(98) == "TRANSFER_READ");
  CHECK(FrameTypeName(99) == "TRANSFER_DATA");
  CHECK(FrameTypeName(100) == "TRANSFER_COMMIT");
  CHECK(FrameTypeName(101) == "TRANSFER_COMMITTED");
  CHECK(FrameTypeName(102) == "type-102");
  CHECK(std::string(TransferPhaseName(TransferPhase::kClear)) == "clear");
  CHECK(std::string(TransferPhaseName(TransferPhase::kCopy)) == "copy");
  CHECK(std::string(TransferPhaseName(TransferPhase::kCatchUp)) == "catch-up");
  CHECK(std::string(TransferPhaseName(TransferPhase::kHandoff)) == "handoff");
  CHECK(std::string(TransferPhaseName(static_cast<TransferPhase>(4))) == "unknown");
}

TEST_CASE("transfer messages round trip field by field") {
  util::Random rnd(kv::test::TestSeed(20240702));
  for (int iter = 0; iter < 200; iter++) {
    const TransferStep step = RandomStep(&rnd);
    TransferStep step2;
    REQUIRE(step2.Decode(Encoded(step)).ok());
    CHECK(step2.partition == step.partition);
    CHECK(step2.partitions == step.partitions);
    CHECK(step2.source == step.source);
    CHECK(step2.phase == step.phase);
    CHECK(step2.cursor == step.cursor);
    CHECK(step2.max_bytes == step.max_bytes);

    const TransferProgress prog = RandomProgress(&rnd);
    TransferProgress prog2;
    REQUIRE(prog2.Decode(Encoded(prog)).ok());
    CHECK(prog2.done == prog.done);
    CHECK(prog2.cursor == prog.cursor);
    CHECK(prog2.records == prog.records);
    CHECK(prog2.bytes == prog.bytes);

    const TransferRead read = RandomRead(&rnd);
    TransferRead read2;
    REQUIRE(read2.Decode(Encoded(read)).ok());
    CHECK(read2.partition == read.partition);
    CHECK(read2.partitions == read.partitions);
    CHECK(read2.phase == read.phase);
    CHECK(read2.cursor == read.cursor);
    CHECK(read2.max_bytes == read.max_bytes);

    const TransferData data = RandomData(&rnd);
    TransferData data2;
    data2.records.resize(3);  // Decode replaces what was there
    REQUIRE(data2.Decode(Encoded(data)).ok());
    CHECK(data2.done == data.done);
    CHECK(data2.cursor == data.cursor);
    CHECK(data2.records == data.records);

    const TransferCommit commit = RandomCommit(&rnd);
    TransferCommit commit2;
    REQUIRE(commit2.Decode(Encoded(commit)).ok());
    CHECK(commit2.partition == commit.partition);
    CHECK(commit2.ring == commit.ring);
  }
}

TEST_CASE("transfer messages travel in frames; TRANSFER_COMMITTED is an empty response") {
  util::Random rnd(kv::test::TestSeed(7));
  const TransferData data = RandomData(&rnd);
  std::string wire;
  AppendMessage(&wire, FrameType::kTransferData, data, 41, kFlagResponse);
  AppendFrame(&wire, FrameType::kTransferCommitted, kFlagResponse, 42, "");

  FrameView f;
  size_t n = 0;
  REQUIRE(DecodeFrame(wire, FrameLimits{}, &f, &n).ok());
  REQUIRE(n > 0);
  CHECK(f.type == static_cast<uint8_t>(FrameType::kTransferData));
  CHECK(f.request_id == 41);
  TransferData data2;
  REQUIRE(data2.Decode(f.payload).ok());
  CHECK(data2.records == data.records);

  REQUIRE(DecodeFrame(std::string_view(wire).substr(n), FrameLimits{}, &f, &n).ok());
  CHECK(n == kFrameOverhead);
  CHECK(f.type == static_cast<uint8_t>(FrameType::kTransferCommitted));
  CHECK(f.is_response());
  CHECK(f.request_id == 42);
  CHECK(f.payload.empty());
}

TEST_CASE("TRANSFER_STEP and TRANSFER_DATA payloads match PROTOCOL.md's examples") {
  TransferStep step;
  step.partition = 5;
  step.partitions = 64;
  step.source = 2;
  step.phase = TransferPhase::kCopy;
  step.max_bytes = 1u << 20;
  CHECK(Hex(Encoded(step)) ==
        "05000000"          // partition 5
        "40000000"          // partitions 64
        "0200000000000000"  // source node 2
        "01"                // phase copy
        "00"                // cursor "" (from the start)
        "00001000");        // max_bytes 1 MiB

  // Storage keys: slot 5 (2 bytes), then the user key.
  const std::string a({'\x00', '\x05', 'a'});
  const std::string b({'\x00', '\x05', 'b'});
  TransferData data;
  data.done = false;
  data.cursor = b;
  data.records.push_back({a, true, "r1"});
  data.records.push_back({b, false, ""});
  CHECK(Hex(Encoded(data)) ==
        "00"                  // done 0
        "03000562"            // cursor
        "02"                  // 2 records
        "080300056101027231"  // len 8: key, present 1, record "r1"
        "06030005620000");    // len 6: key, present 0 (deleted), record ""
}

TEST_CASE("every truncation of a transfer message is Corruption naming the message") {
  util::Random rnd(kv::test::TestSeed(8));
  for (int iter = 0; iter < 20; iter++) {
    CheckEveryTruncationRefused<TransferStep>(Encoded(RandomStep(&rnd)), "TRANSFER_STEP");
    CheckEveryTruncationRefused<TransferProgress>(Encoded(RandomProgress(&rnd)),
                                                  "TRANSFER_PROGRESS");
    CheckEveryTruncationRefused<TransferRead>(Encoded(RandomRead(&rnd)), "TRANSFER_READ");
    CheckEveryTruncationRefused<TransferData>(Encoded(RandomData(&rnd)), "TRANSFER_DATA");
    CheckEveryTruncationRefused<TransferCommit>(Encoded(RandomCommit(&rnd)), "TRANSFER_COMMIT");
  }
  // A record element cut short inside its own length is refused too.
  std::string element;
  util::PutLengthPrefixed(&element, "key");
  element += '\x01';
  util::PutLengthPrefixed(&element, "record");
  for (size_t len = 0; len < element.size(); len++) {
    CAPTURE(len);
    std::string p = "\x01";
    util::PutLengthPrefixed(&p, "");
    util::PutVarint64(&p, 1);
    util::PutLengthPrefixed(&p, element.substr(0, len));
    TransferData d;
    Status st = d.Decode(p);
    REQUIRE(st.IsCorruption());
    REQUIRE(st.message().find("TRANSFER_DATA record payload: truncated") != std::string::npos);
  }
}

TEST_CASE("unknown transfer phases are Corruption") {
  TransferStep step;
  std::string p = Encoded(step);
  p[16] = 4;  // u32 partition, u32 partitions, u64 source, then the phase
  Status st = TransferStep{}.Decode(p);
  CHECK(st.IsCorruption());
  CHECK(st.message() == "TRANSFER_STEP payload: unknown transfer phase 4");
  p[16] = static_cast<char>(0xff);
  CHECK(TransferStep{}.Decode(p).IsCorruption());
  p[16] = 3;
  TransferStep ok;
  REQUIRE(ok.Decode(p).ok());
  CHECK(ok.phase == TransferPhase::kHandoff);

  TransferRead read;
  p = Encoded(read);
  p[8] = 4;  // u32 partition, u32 partitions, then the phase
  st = TransferRead{}.Decode(p);
  CHECK(st.IsCorruption());
  CHECK(st.message() == "TRANSFER_READ payload: unknown transfer phase 4");
}

TEST_CASE("done and present bytes other than 0 and 1 are Corruption") {
  std::string p = Encoded(TransferProgress{});
  p[0] = 2;
  Status st = TransferProgress{}.Decode(p);
  CHECK(st.IsCorruption());
  CHECK(st.message() == "TRANSFER_PROGRESS payload: done is 2, not 0 or 1");
  p[0] = 1;
  TransferProgress prog;
  REQUIRE(prog.Decode(p).ok());
  CHECK(prog.done);

  p = Encoded(TransferData{});
  p[0] = static_cast<char>(0x80);
  st = TransferData{}.Decode(p);
  CHECK(st.IsCorruption());
  CHECK(st.message() == "TRANSFER_DATA payload: done is 128, not 0 or 1");

  TransferData d;
  d.records.push_back({"k", true, "v"});
  p = Encoded(d);
  // done, cursor "", count 1, element length, key length, key, then present.
  REQUIRE(p[6] == '\x01');
  p[6] = 2;
  st = TransferData{}.Decode(p);
  CHECK(st.IsCorruption());
  CHECK(st.message() == "TRANSFER_DATA record payload: present is 2, not 0 or 1");
}

TEST_CASE("a deleted key that carries a record is Corruption") {
  TransferData d;
  d.records.push_back({"k", false, "stale"});
  Status st = TransferData{}.Decode(Encoded(d));
  CHECK(st.IsCorruption());
  CHECK(st.message().find("deleted key carries a 5-byte record") != std::string::npos);
}

TEST_CASE("a record count larger than the bytes left is Corruption without reserving it") {
  std::string p(1, '\0');
  util::PutLengthPrefixed(&p, "cur");
  util::PutVarint64(&p, 1ULL << 60);
  p += "tiny";
  TransferData d;
  Status st = d.Decode(p);
  CHECK(st.IsCorruption());
  CHECK(st.message().find("records count 1152921504606846976 exceeds the 4 bytes left") !=
        std::string::npos);
  CHECK(d.records.capacity() == 0);

  // One more record than there are bytes.
  p = std::string("\x01", 1);
  util::PutLengthPrefixed(&p, "");
  util::PutVarint64(&p, 3);
  p.append(2, '\0');
  st = d.Decode(p);
  CHECK(st.IsCorruption());
  CHECK(st.message().find("records count 3 exceeds the 2 bytes left") != std::string::npos);
}

TEST_CASE("transfer decoders ignore trailing fields they do not know") {
  util::Random rnd(kv::test::TestSeed(9));
  const std::string extra = "\x01\x02new-field";
  const TransferStep step = RandomStep(&rnd);
  TransferStep step2;
  REQUIRE(step2.Decode(Encoded(step) + extra).ok());
  CHECK(Encoded(step2) == Encoded(step));
  const TransferProgress prog = RandomProgress(&rnd);
  TransferProgress prog2;
  REQUIRE(prog2.Decode(Encoded(prog) + extra).ok());
  CHECK(Encoded(prog2) == Encoded(prog));
  const TransferRead read = RandomRead(&rnd);
  TransferRead read2;
  REQUIRE(read2.Decode(Encoded(read) + extra).ok());
  CHECK(Encoded(read2) == Encoded(read));
  const TransferData data = RandomData(&rnd);
  TransferData data2;
  REQUIRE(data2.Decode(Encoded(data) + extra).ok());
  CHECK(Encoded(data2) == Encoded(data));
  const TransferCommit commit = RandomCommit(&rnd);
  TransferCommit commit2;
  REQUIRE(commit2.Decode(Encoded(commit) + extra).ok());
  CHECK(Encoded(commit2) == Encoded(commit));

  // Also inside a record element.
  std::string element;
  util::PutLengthPrefixed(&element, "key");
  element += '\x01';
  util::PutLengthPrefixed(&element, "rec");
  element += "later";
  std::string p(1, '\0');
  util::PutLengthPrefixed(&p, "");
  util::PutVarint64(&p, 1);
  util::PutLengthPrefixed(&p, element);
  TransferData d;
  REQUIRE(d.Decode(p).ok());
  REQUIRE(d.records.size() == 1);
  CHECK(d.records[0] == TransferRecord{"key", true, "rec"});
}

}  // namespace
}  // namespace kv::cluster
