#include "cluster/messages.h"

#include <cstring>

#include "util/coding.h"

namespace kv::cluster {
namespace {

void PutU8(std::string* dst, uint8_t v) { dst->push_back(static_cast<char>(v)); }
void PutU16(std::string* dst, uint16_t v) {
  dst->push_back(static_cast<char>(v));
  dst->push_back(static_cast<char>(v >> 8));
}

// A bounds-checked cursor over one payload. The first failed read records
// which field it was; later reads fail too, so a decoder reads all its
// fields and checks once (or early, before a count is used).
class Reader {
 public:
  Reader(std::string_view in, const char* what) : in_(in), what_(what) {}

  bool U8(uint8_t* v, const char* field) {
    if (!Need(1, field)) return false;
    *v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool U16(uint16_t* v, const char* field) {
    if (!Need(2, field)) return false;
    *v = static_cast<uint16_t>(static_cast<uint8_t>(in_[0]) |
                               (static_cast<uint16_t>(static_cast<uint8_t>(in_[1])) << 8));
    in_.remove_prefix(2);
    return true;
  }
  bool U32(uint32_t* v, const char* field) {
    if (!Need(4, field)) return false;
    *v = util::DecodeFixed32(in_.data());
    in_.remove_prefix(4);
    return true;
  }
  bool U64(uint64_t* v, const char* field) {
    if (!Need(8, field)) return false;
    *v = util::DecodeFixed64(in_.data());
    in_.remove_prefix(8);
    return true;
  }
  bool Raw(void* out, size_t n, const char* field) {
    if (!Need(n, field)) return false;
    memcpy(out, in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool Bytes(std::string_view* out, const char* field) {
    if (!ok()) return false;
    if (!util::GetLengthPrefixed(&in_, out)) return Fail(field);
    return true;
  }
  bool Bytes(std::string* out, const char* field) {
    std::string_view v;
    if (!Bytes(&v, field)) return false;
    out->assign(v.data(), v.size());
    return true;
  }
  // A list count, checked against the bytes left: every element takes at
  // least `min_element` bytes, so a garbage count cannot make the caller
  // reserve more than the payload could hold.
  bool Count(size_t* n, size_t min_element, const char* field) {
    if (!ok()) return false;
    uint64_t v;
    if (!util::GetVarint64(&in_, &v)) return Fail(field);
    if (v > in_.size() / min_element) {
      bad_ = std::string(field) + " count " + std::to_string(v) + " exceeds the " +
             std::to_string(in_.size()) + " bytes left";
      return false;
    }
    *n = static_cast<size_t>(v);
    return true;
  }
  bool Invalid(const std::string& why) {
    if (ok()) bad_ = why;
    return false;
  }

  bool ok() const { return bad_.empty(); }
  // True if nothing is left (a field appended later may be absent).
  bool AtEnd() const { return in_.empty(); }
  Status status() const {
    if (ok()) return Status::OK();
    return Status::Corruption(std::string(what_) + " payload: " + bad_);
  }

 private:
  bool Need(size_t n, const char* field) {
    if (!ok()) return false;
    if (in_.size() < n) return Fail(field);
    return true;
  }
  bool Fail(const char* field) {
    if (ok()) bad_ = std::string("truncated at ") + field;
    return false;
  }

  std::string_view in_;
  const char* what_;
  std::string bad_;
};

}  // namespace

void Hello::EncodeTo(std::string* dst) const {
  util::PutFixed64(dst, node_id);
  util::PutLengthPrefixed(dst, cluster_name);
  util::PutLengthPrefixed(dst, host);
  PutU16(dst, port);
  PutU16(dst, bus_port);
  dst->append(reinterpret_cast<const char*>(nonce.data()), nonce.size());
}

Status Hello::Decode(std::string_view in, const char* what) {
  Reader r(in, what);
  r.U64(&node_id, "node_id");
  r.Bytes(&cluster_name, "cluster_name");
  r.Bytes(&host, "host");
  r.U16(&port, "port");
  r.U16(&bus_port, "bus_port");
  r.Raw(nonce.data(), nonce.size(), "nonce");
  return r.status();
}

void AuthProof::EncodeTo(std::string* dst) const {
  dst->append(reinterpret_cast<const char*>(proof.data()), proof.size());
}

Status AuthProof::Decode(std::string_view in, const char* what) {
  Reader r(in, what);
  r.Raw(proof.data(), proof.size(), "proof");
  return r.status();
}

void AuthFail::EncodeTo(std::string* dst) const { util::PutLengthPrefixed(dst, reason); }

Status AuthFail::Decode(std::string_view in) {
  Reader r(in, "AUTH_FAIL");
  r.Bytes(&reason, "reason");
  return r.status();
}

void Ping::EncodeTo(std::string* dst) const { util::PutFixed64(dst, token); }

Status Ping::Decode(std::string_view in, const char* what) {
  Reader r(in, what);
  r.U64(&token, "token");
  return r.status();
}

const char* MemberStateName(MemberState s) {
  switch (s) {
    case MemberState::kJoining:
      return "joining";
    case MemberState::kNormal:
      return "normal";
    case MemberState::kLeaving:
      return "leaving";
    case MemberState::kDown:
      return "down";
    case MemberState::kLeft:
      return "left";
  }
  return "unknown";
}

void Gossip::EncodeTo(std::string* dst) const {
  util::PutVarint64(dst, members.size());
  std::string m;
  for (const MemberDigest& d : members) {
    m.clear();
    util::PutFixed64(&m, d.node_id);
    util::PutLengthPrefixed(&m, d.host);
    PutU16(&m, d.port);
    PutU16(&m, d.bus_port);
    util::PutLengthPrefixed(&m, d.zone);
    util::PutFixed32(&m, d.weight);
    util::PutFixed64(&m, d.heartbeat);
    PutU8(&m, static_cast<uint8_t>(d.state));
    util::PutFixed64(&m, d.ring_epoch);
    util::PutLengthPrefixed(dst, m);
  }
  PutU8(dst, ring.has_value() ? 1 : 0);
  if (ring.has_value()) util::PutLengthPrefixed(dst, *ring);
}

Status Gossip::Decode(std::string_view in) {
  Reader r(in, "GOSSIP");
  members.clear();
  ring.reset();
  size_t n = 0;
  if (!r.Count(&n, 1, "members")) return r.status();
  members.reserve(n);
  for (size_t i = 0; i < n; i++) {
    std::string_view element;
    if (!r.Bytes(&element, "member")) return r.status();
    Reader m(element, "GOSSIP member");
    MemberDigest d;
    uint8_t state = 0;
    m.U64(&d.node_id, "node_id");
    m.Bytes(&d.host, "host");
    m.U16(&d.port, "port");
    m.U16(&d.bus_port, "bus_port");
    m.Bytes(&d.zone, "zone");
    m.U32(&d.weight, "weight");
    m.U64(&d.heartbeat, "heartbeat");
    if (m.U8(&state, "state") && state > kMaxMemberState) {
      m.Invalid("unknown member state " + std::to_string(state));
    }
    m.U64(&d.ring_epoch, "ring_epoch");
    if (!m.ok()) return m.status();
    d.state = static_cast<MemberState>(state);
    members.push_back(std::move(d));
  }
  uint8_t has_ring = 0;
  if (r.U8(&has_ring, "has_ring") && has_ring > 1) {
    r.Invalid("has_ring is " + std::to_string(has_ring) + ", not 0 or 1");
  }
  if (r.ok() && has_ring == 1) {
    std::string blob;
    if (r.Bytes(&blob, "ring")) ring = std::move(blob);
  }
  return r.status();
}

void Forward::EncodeTo(std::string* dst) const {
  util::PutFixed32(dst, flags);
  util::PutVarint64(dst, argv.size());
  for (const std::string& a : argv) util::PutLengthPrefixed(dst, a);
}

Status Forward::Decode(std::string_view in) {
  Reader r(in, "FORWARD");
  argv.clear();
  size_t n = 0;
  r.U32(&flags, "flags");
  if (!r.Count(&n, 1, "argv")) return r.status();
  if (n == 0) r.Invalid("empty argv");
  argv.resize(r.ok() ? n : 0);
  for (std::string& a : argv) r.Bytes(&a, "argument");
  return r.status();
}

void ForwardReply::EncodeTo(std::string* dst) const { util::PutLengthPrefixed(dst, resp); }

Status ForwardReply::Decode(std::string_view in) {
  Reader r(in, "FORWARD_REPLY");
  r.Bytes(&resp, "resp");
  return r.status();
}

void ErrorMsg::EncodeTo(std::string* dst) const {
  PutU16(dst, code);
  util::PutLengthPrefixed(dst, message);
}

Status ErrorMsg::Decode(std::string_view in) {
  Reader r(in, "ERROR");
  r.U16(&code, "code");
  r.Bytes(&message, "message");
  return r.status();
}

namespace {

// Reads a phase byte into *phase, refusing values this build does not know.
void ReadPhase(Reader* r, TransferPhase* phase) {
  uint8_t v = 0;
  if (!r->U8(&v, "phase")) return;
  if (v > kMaxTransferPhase) {
    r->Invalid("unknown transfer phase " + std::to_string(v));
    return;
  }
  *phase = static_cast<TransferPhase>(v);
}

// Reads a 0/1 byte into *b; any other value is Corruption.
void ReadBool(Reader* r, bool* b, const char* field) {
  uint8_t v = 0;
  if (!r->U8(&v, field)) return;
  if (v > 1) {
    r->Invalid(std::string(field) + " is " + std::to_string(v) + ", not 0 or 1");
    return;
  }
  *b = v == 1;
}

}  // namespace

const char* TransferPhaseName(TransferPhase p) {
  switch (p) {
    case TransferPhase::kClear:
      return "clear";
    case TransferPhase::kCopy:
      return "copy";
    case TransferPhase::kCatchUp:
      return "catch-up";
    case TransferPhase::kHandoff:
      return "handoff";
  }
  return "unknown";
}

void TransferStep::EncodeTo(std::string* dst) const {
  util::PutFixed32(dst, partition);
  util::PutFixed32(dst, partitions);
  util::PutFixed64(dst, source);
  PutU8(dst, static_cast<uint8_t>(phase));
  util::PutLengthPrefixed(dst, cursor);
  util::PutFixed32(dst, max_bytes);
}

Status TransferStep::Decode(std::string_view in) {
  Reader r(in, "TRANSFER_STEP");
  r.U32(&partition, "partition");
  r.U32(&partitions, "partitions");
  r.U64(&source, "source");
  ReadPhase(&r, &phase);
  r.Bytes(&cursor, "cursor");
  r.U32(&max_bytes, "max_bytes");
  return r.status();
}

void TransferProgress::EncodeTo(std::string* dst) const {
  PutU8(dst, done ? 1 : 0);
  util::PutLengthPrefixed(dst, cursor);
  util::PutFixed64(dst, records);
  util::PutFixed64(dst, bytes);
}

Status TransferProgress::Decode(std::string_view in) {
  Reader r(in, "TRANSFER_PROGRESS");
  ReadBool(&r, &done, "done");
  r.Bytes(&cursor, "cursor");
  r.U64(&records, "records");
  r.U64(&bytes, "bytes");
  return r.status();
}

void TransferRead::EncodeTo(std::string* dst) const {
  util::PutFixed32(dst, partition);
  util::PutFixed32(dst, partitions);
  PutU8(dst, static_cast<uint8_t>(phase));
  util::PutLengthPrefixed(dst, cursor);
  util::PutFixed32(dst, max_bytes);
}

Status TransferRead::Decode(std::string_view in) {
  Reader r(in, "TRANSFER_READ");
  r.U32(&partition, "partition");
  r.U32(&partitions, "partitions");
  ReadPhase(&r, &phase);
  r.Bytes(&cursor, "cursor");
  r.U32(&max_bytes, "max_bytes");
  return r.status();
}

void TransferData::EncodeTo(std::string* dst) const {
  PutU8(dst, done ? 1 : 0);
  util::PutLengthPrefixed(dst, cursor);
  util::PutVarint64(dst, records.size());
  std::string e;
  for (const TransferRecord& rec : records) {
    e.clear();
    util::PutLengthPrefixed(&e, rec.key);
    PutU8(&e, rec.present ? 1 : 0);
    util::PutLengthPrefixed(&e, rec.record);
    util::PutLengthPrefixed(dst, e);
  }
}

Status TransferData::Decode(std::string_view in) {
  Reader r(in, "TRANSFER_DATA");
  records.clear();
  ReadBool(&r, &done, "done");
  r.Bytes(&cursor, "cursor");
  size_t n = 0;
  if (!r.Count(&n, 1, "records")) return r.status();
  records.reserve(n);
  for (size_t i = 0; i < n; i++) {
    std::string_view element;
    if (!r.Bytes(&element, "record")) return r.status();
    Reader e(element, "TRANSFER_DATA record");
    TransferRecord rec;
    e.Bytes(&rec.key, "key");
    ReadBool(&e, &rec.present, "present");
    e.Bytes(&rec.record, "record");
    if (e.ok() && !rec.present && !rec.record.empty()) {
      e.Invalid("a deleted key carries a " + std::to_string(rec.record.size()) + "-byte record");
    }
    if (!e.ok()) return e.status();
    records.push_back(std::move(rec));
  }
  return r.status();
}

void TransferCommit::EncodeTo(std::string* dst) const {
  util::PutFixed32(dst, partition);
  util::PutLengthPrefixed(dst, ring);
}

Status TransferCommit::Decode(std::string_view in) {
  Reader r(in, "TRANSFER_COMMIT");
  r.U32(&partition, "partition");
  r.Bytes(&ring, "ring");
  return r.status();
}

}  // namespace kv::cluster
