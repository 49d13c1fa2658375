#include "ring/ring.h"

#include <algorithm>
#include <utility>

#include "ring/partition.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/log.h"

namespace kv::ring {

Status ValidateMembers(std::vector<Member>* members) {
  if (members->empty() || members->size() > kMaxMembers) {
    return Status::InvalidArgument("a ring needs between 1 and 16384 members");
  }
  std::sort(members->begin(), members->end(),
            [](const Member& a, const Member& b) { return a.id < b.id; });
  for (size_t i = 0; i < members->size(); i++) {
    const Member& m = (*members)[i];
    if (m.id == 0) return Status::InvalidArgument("node id 0 is not valid");
    if (i > 0 && (*members)[i - 1].id == m.id) return Status::InvalidArgument("duplicate node id");
    if (m.weight < 1 || m.weight > kMaxWeight) {
      return Status::InvalidArgument("node weight must be in [1, 65535]");
    }
    if (m.zone.size() > kMaxZoneLength) {
      return Status::InvalidArgument("zone name longer than 255 bytes");
    }
  }
  return Status::OK();
}

Status Ring::Build(uint64_t epoch, uint64_t author, std::vector<Member> members,
                   const std::vector<uint64_t>& owners, Ring* out) {
  if (epoch == 0) return Status::InvalidArgument("ring epoch must be at least 1");
  if (author == 0) return Status::InvalidArgument("ring author must be a node id (not 0)");
  if (owners.size() > kMaxPartitions ||
      !IsValidPartitionCount(static_cast<uint32_t>(owners.size()))) {
    return Status::InvalidArgument("partition count must be a power of two in [1, 16384]");
  }
  Status s = ValidateMembers(&members);
  if (!s.ok()) return s;
  Ring ring;
  ring.epoch_ = epoch;
  ring.author_ = author;
  ring.members_ = std::move(members);
  ring.owner_index_.reserve(owners.size());
  for (uint64_t id : owners) {
    int index = ring.MemberIndex(id);
    if (index < 0) return Status::InvalidArgument("a partition owner is not a member");
    ring.owner_index_.push_back(static_cast<uint32_t>(index));
  }
  *out = std::move(ring);
  return Status::OK();
}

std::vector<uint64_t> Ring::Owners() const {
  std::vector<uint64_t> owners;
  owners.reserve(owner_index_.size());
  for (uint32_t i : owner_index_) owners.push_back(members_[i].id);
  return owners;
}

int Ring::MemberIndex(uint64_t id) const {
  auto it = std::lower_bound(members_.begin(), members_.end(), id,
                             [](const Member& m, uint64_t v) { return m.id < v; });
  if (it == members_.end() || it->id != id) return -1;
  return static_cast<int>(it - members_.begin());
}

const Member* Ring::FindMember(uint64_t id) const {
  int i = MemberIndex(id);
  return i < 0 ? nullptr : &members_[i];
}

std::vector<uint32_t> Ring::PartitionsOf(uint64_t id) const {
  std::vector<uint32_t> out;
  int index = MemberIndex(id);
  if (index < 0) return out;
  for (uint32_t p = 0; p < partitions(); p++) {
    if (owner_index_[p] == static_cast<uint32_t>(index)) out.push_back(p);
  }
  return out;
}

std::vector<uint32_t> Ring::Counts() const {
  std::vector<uint32_t> counts(members_.size(), 0);
  for (uint32_t i : owner_index_) counts[i]++;
  return counts;
}

bool IsNewerRing(const Ring& a, const Ring& b) {
  if (a.epoch() != b.epoch()) return a.epoch() > b.epoch();
  return a.author() > b.author();
}

std::vector<Move> Moves(const Ring& from, const Ring& to) {
  KV_ASSERT(from.partitions() == to.partitions());
  std::vector<Move> moves;
  for (uint32_t p = 0; p < from.partitions(); p++) {
    uint64_t a = from.Owner(p);
    uint64_t b = to.Owner(p);
    if (a != b) moves.push_back(Move{p, a, b});
  }
  return moves;
}

// ---- encoding (FORMAT.md "Ring") -------------------------------------------

namespace {

// The smallest encoded member: id (8) + weight (1) + zone length (1).
constexpr size_t kMinMemberBytes = 10;
constexpr size_t kChecksumBytes = 4;

}  // namespace

void EncodeRing(const Ring& ring, std::string* dst) {
  KV_ASSERT(ring.partitions() > 0);
  size_t start = dst->size();
  dst->push_back(static_cast<char>(kRingFormatV1));
  util::PutVarint64(dst, ring.epoch());
  util::PutFixed64(dst, ring.author());
  uint8_t log2 = 0;
  while ((uint32_t{1} << log2) < ring.partitions()) log2++;
  dst->push_back(static_cast<char>(log2));
  util::PutVarint64(dst, ring.members().size());
  for (const Member& m : ring.members()) {
    util::PutFixed64(dst, m.id);
    util::PutVarint64(dst, m.weight);
    util::PutLengthPrefixed(dst, m.zone);
  }
  for (uint32_t p = 0; p < ring.partitions(); p++) util::PutVarint64(dst, ring.OwnerIndex(p));
  uint32_t crc = util::crc32c::Value(dst->data() + start, dst->size() - start);
  util::PutFixed32(dst, util::crc32c::Mask(crc));
}

Status DecodeRing(std::string_view bytes, Ring* out) {
  // Checked in order: the smallest possible size, the format byte, the
  // checksum, then each field against the bytes left before it is read.
  if (bytes.size() < 1 + kChecksumBytes) return Status::Corruption("ring: truncated");
  if (static_cast<uint8_t>(bytes[0]) != kRingFormatV1) {
    return Status::Corruption("ring: unknown format version");
  }
  std::string_view body = bytes.substr(0, bytes.size() - kChecksumBytes);
  uint32_t stored = util::DecodeFixed32(bytes.data() + body.size());
  if (util::crc32c::Unmask(stored) != util::crc32c::Value(body.data(), body.size())) {
    return Status::Corruption("ring: checksum mismatch");
  }
  std::string_view in = body.substr(1);
  uint64_t epoch = 0;
  uint64_t author = 0;
  if (!util::GetVarint64(&in, &epoch) || !util::GetFixed64(&in, &author) || in.empty()) {
    return Status::Corruption("ring: truncated header");
  }
  uint8_t log2 = static_cast<uint8_t>(in[0]);
  in.remove_prefix(1);
  if (log2 > 14) return Status::Corruption("ring: partition count out of range");
  uint32_t q = uint32_t{1} << log2;
  uint64_t member_count = 0;
  if (!util::GetVarint64(&in, &member_count)) return Status::Corruption("ring: truncated header");
  if (member_count == 0 || member_count > kMaxMembers ||
      member_count > in.size() / kMinMemberBytes) {
    return Status::Corruption("ring: bad member count");
  }
  std::vector<Member> members(member_count);
  for (Member& m : members) {
    uint64_t weight = 0;
    std::string_view zone;
    if (!util::GetFixed64(&in, &m.id) || !util::GetVarint64(&in, &weight) ||
        !util::GetLengthPrefixed(&in, &zone)) {
      return Status::Corruption("ring: truncated member");
    }
    if (weight < 1 || weight > kMaxWeight || zone.size() > kMaxZoneLength) {
      return Status::Corruption("ring: member field out of range");
    }
    m.weight = static_cast<uint32_t>(weight);
    m.zone.assign(zone);
  }
  for (size_t i = 0; i < members.size(); i++) {
    // Strictly ascending ids: also rules out 0 after the first and duplicates.
    if (members[i].id == 0 || (i > 0 && members[i].id <= members[i - 1].id)) {
      return Status::Corruption("ring: member ids not strictly ascending and non-zero");
    }
  }
  if (in.size() < q) return Status::Corruption("ring: truncated owners");
  std::vector<uint64_t> owners(q);
  for (uint64_t& owner : owners) {
    uint64_t index = 0;
    if (!util::GetVarint64(&in, &index)) return Status::Corruption("ring: truncated owners");
    if (index >= member_count) return Status::Corruption("ring: owner index out of range");
    owner = members[index].id;
  }
  if (!in.empty()) return Status::Corruption("ring: trailing bytes");
  Status s = Ring::Build(epoch, author, std::move(members), owners, out);
  if (!s.ok()) return Status::Corruption("ring: " + s.message());
  return Status::OK();
}

}  // namespace kv::ring
