// Ring: the versioned assignment of Q partitions (partition.h) to cluster
// members, DESIGN.md section 3. It is a value: an epoch, the node that made
// it, the member table (id, zone, weight) and the owner of every partition.
// A new ring is made only by an admin action (claim.h) and spread by gossip;
// of two rings the one with the higher (epoch, author) wins (IsNewerRing).
// Because the member table travels with the owners, every node derives the
// same preference lists (preference_list.h) from the same ring.
//
// The binary encoding (EncodeRing / DecodeRing) is documented byte by byte
// in src/ring/FORMAT.md; it is persisted in the data dir and gossiped.
//
// Thread safety: a Ring is an immutable value once built; share const
// references freely.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace kv::ring {

using util::Status;

// DO NOT CHANGE: the first byte of an encoded ring.
constexpr uint8_t kRingFormatV1 = 1;
// Limits enforced by Ring::Build and by the decoder.
constexpr uint32_t kMaxWeight = 65535;
constexpr size_t kMaxZoneLength = 255;
constexpr size_t kMaxMembers = 16384;

// A cluster member as the ring sees it. id is random, persisted by the node,
// never 0. zone may be empty (all empty-zone members share one zone).
struct Member {
  uint64_t id = 0;
  std::string zone;
  uint32_t weight = 1;
  bool operator==(const Member&) const = default;
};

// Sorts *members by id and checks them: 1 to kMaxMembers members, ids
// non-zero and unique, weights in [1, kMaxWeight], zones at most
// kMaxZoneLength bytes. OK or InvalidArgument naming the first problem.
[[nodiscard]] Status ValidateMembers(std::vector<Member>* members);

class Ring {
 public:
  Ring() = default;  // empty: partitions() == 0, not a usable ring

  // Builds a ring after checking every invariant: epoch >= 1, author != 0,
  // IsValidPartitionCount(owners.size()), 1 <= members <= kMaxMembers, ids
  // non-zero and unique, weights in [1, kMaxWeight], zones at most
  // kMaxZoneLength bytes, every owner a member. Members are stored sorted by
  // id. OK and *out set, or InvalidArgument and *out untouched.
  [[nodiscard]] static Status Build(uint64_t epoch, uint64_t author, std::vector<Member> members,
                                    const std::vector<uint64_t>& owners, Ring* out);

  uint64_t epoch() const { return epoch_; }
  uint64_t author() const { return author_; }
  uint32_t partitions() const { return static_cast<uint32_t>(owner_index_.size()); }
  // Sorted by id.
  const std::vector<Member>& members() const { return members_; }

  // REQUIRES: p < partitions().
  uint64_t Owner(uint32_t p) const { return members_[owner_index_[p]].id; }
  // Index into members() of the owner of p. REQUIRES: p < partitions().
  uint32_t OwnerIndex(uint32_t p) const { return owner_index_[p]; }
  std::vector<uint64_t> Owners() const;
  // nullptr if `id` is not a member.
  const Member* FindMember(uint64_t id) const;
  // Index into members() or -1.
  int MemberIndex(uint64_t id) const;
  // Partitions owned by `id`, ascending.
  std::vector<uint32_t> PartitionsOf(uint64_t id) const;
  // Number of partitions owned by each member, parallel to members().
  std::vector<uint32_t> Counts() const;

  bool operator==(const Ring&) const = default;

 private:
  uint64_t epoch_ = 0;
  uint64_t author_ = 0;
  std::vector<Member> members_;
  std::vector<uint32_t> owner_index_;
};

// True if `a` supersedes `b`: higher epoch, or equal epoch and higher author
// id. A node makes each of its rings with a fresh epoch, so two different
// rings never share (epoch, author) unless a node reused an epoch.
bool IsNewerRing(const Ring& a, const Ring& b);

// One partition changing hands between two rings.
struct Move {
  uint32_t partition = 0;
  uint64_t from = 0;
  uint64_t to = 0;
  bool operator==(const Move&) const = default;
};
// The partitions whose owner differs between `from` and `to`, ascending by
// partition: the plan of a rebalance. REQUIRES: same partitions().
std::vector<Move> Moves(const Ring& from, const Ring& to);

// Appends the version-1 encoding of `ring` (FORMAT.md) to *dst.
// REQUIRES: ring was built (partitions() > 0).
void EncodeRing(const Ring& ring, std::string* dst);
// Decodes exactly `bytes` into *out. Corruption (and *out untouched) on a
// bad checksum, an unknown format byte, a truncated or out-of-range field,
// or trailing bytes; never reads outside `bytes`.
[[nodiscard]] Status DecodeRing(std::string_view bytes, Ring* out);

}  // namespace kv::ring
