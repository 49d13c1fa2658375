// Claim: who owns which partition. Makes the first ring of a cluster
// (NewRing) and every later one (Claim) after joins, leaves and weight
// changes. DESIGN.md section 3; the algorithm and its limits are explained
// in src/ring/README.md.
//
// Guarantees, for any valid input:
//   - balance: every member owns its weighted share Q * weight / total
//     weight rounded down or up (so within one partition of it), the
//     roundings summing to Q (Targets);
//   - minimal movement: a partition changes hands only if its owner left or
//     owns more than its target, and it goes to a member below its target,
//     so the number moved is the minimum any assignment meeting the targets
//     needs (and the rounding is chosen to make that minimum smallest);
//   - determinism: the result depends only on the arguments (members are
//     sorted by id, ties broken by id and partition index, no randomness).
// Best effort, not guaranteed: that the owners of any `target_n`
// consecutive partitions are distinct nodes in distinct zones.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <vector>

#include "ring/ring.h"

namespace kv::ring {

struct ClaimOptions {
  // The replica count N the cluster runs with: the claim tries to make the
  // owners of every N consecutive partitions distinct nodes, in distinct
  // zones, so preference lists stay short walks. Must be >= 1.
  uint32_t target_n = 3;
};

// The first ring of a cluster: epoch 1, made by `author`, `partitions`
// partitions (IsValidPartitionCount) spread over `members`. InvalidArgument
// if an argument is out of range (ValidateMembers, partition count, author
// 0, target_n 0); *out is set only on OK.
[[nodiscard]] Status NewRing(uint32_t partitions, std::vector<Member> members, uint64_t author,
                             const ClaimOptions& options, Ring* out);

// The ring that follows `current` once the member set is `members` (joins:
// new ids; leaves: missing ids; weight and zone changes: new values).
// Epoch current.epoch() + 1, author `author`, same partition count. Moves
// only what the guarantees above require; with the same members and
// weights it moves nothing. InvalidArgument as for NewRing, or if `current`
// is empty; *out is set only on OK.
[[nodiscard]] Status Claim(const Ring& current, std::vector<Member> members, uint64_t author,
                           const ClaimOptions& options, Ring* out);

// The number of partitions each member should own, parallel to `members`
// (REQUIRES: validated, sorted by id): floor(Q * w / W) plus one for the
// members with the largest claim to the Q - sum(floor) left over, those
// already owning more than their floor first (so they need not give one
// up), then the largest fractional part, then the lowest id.
// `current_counts` is parallel to `members` (zeros for a new cluster).
std::vector<uint32_t> Targets(uint32_t partitions, const std::vector<Member>& members,
                              const std::vector<uint32_t>& current_counts);

}  // namespace kv::ring
