// Preference lists (DESIGN.md sections 3 and 5; Dynamo section 4.3, Riak's
// riak_core_apl): which nodes hold the replicas of a partition, and which
// stand in for them under sloppy quorum.
//
// Walk the partitions clockwise from p (p, p+1, ... wrapping) and look at
// their owners:
//   1. first pass: take, in walk order, each owner that is not yet listed
//      and whose zone is not yet listed, until N nodes;
//   2. second pass (only if the first found fewer than N, i.e. the ring has
//      fewer than N zones): take the remaining distinct owners in walk order
//      until N or none are left.
// The owner of p is always first (it is the coordinating replica when
// reachable). The primary list has min(N, owning nodes) distinct nodes and
// as many distinct zones as the ring allows: the first pass walks the whole
// ring, so if the owners span at least N zones, the N primaries are in N
// different zones, whatever the claim did. The claim (claim.h) tries to
// make the first N owners of each walk already distinct, so the list stays
// close to p and changes little when the ring changes.
//
// The fallback (extended) list is every other member: first the remaining
// distinct owners in walk order, then members owning no partition (possible
// when Q is small or a weight is tiny), by id. Sloppy quorum takes
// substitutes from its front.
//
// Cost: one walk of the ring, O(Q). Callers on the request path should cache
// the lists per partition for a ring epoch.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <vector>

#include "ring/ring.h"

namespace kv::ring {

struct PreferenceList {
  std::vector<uint64_t> primaries;  // min(n, owning members) distinct nodes
  std::vector<uint64_t> fallbacks;  // every other member, walk order first
};

// REQUIRES: p < ring.partitions(), n >= 1.
PreferenceList PreferenceListOf(const Ring& ring, uint32_t p, uint32_t n);

}  // namespace kv::ring
