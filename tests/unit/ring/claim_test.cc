// Claim (ring/claim.h): balance within one partition of the weighted share,
// minimal movement on join, leave and weight change, zone-aware placement
// and determinism. The figures MESSAGEd here are quoted in src/ring/README.md.
#include "ring/claim.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <vector>

#include "../test_util.h"
#include "ring/partition.h"
#include "ring/ring.h"
#include "ring_test_util.h"
#include "util/random.h"

namespace kv::ring {
namespace {

using test::DistinctWindowFraction;
using test::MakeMembers;
using test::MaxShareError;
using test::MustClaim;
using test::MustNewRing;
using test::NodeId;
using test::ShareStdDev;

// Every member owns floor or ceil of its exact share.
void CheckWithinOne(const Ring& ring) {
  std::vector<uint32_t> counts = ring.Counts();
  for (size_t i = 0; i < counts.size(); i++) {
    double share = test::Share(ring, i);
    CHECK_MESSAGE(counts[i] >= std::floor(share), "member ", i, " owns ", counts[i], " of ", share);
    CHECK_MESSAGE(counts[i] <= std::ceil(share), "member ", i, " owns ", counts[i], " of ", share);
  }
}

TEST_CASE("Targets round the weighted shares so they sum to Q") {
  std::vector<Member> members = MakeMembers(3);
  std::vector<uint32_t> t = Targets(256, members, {0, 0, 0});
  CHECK(t[0] + t[1] + t[2] == 256);
  CHECK(std::count(t.begin(), t.end(), 86u) == 1);
  CHECK(std::count(t.begin(), t.end(), 85u) == 2);
  // The leftover goes to a member already holding more than its floor, so it
  // need not give a partition up.
  std::sort(members.begin(), members.end(),
            [](const Member& a, const Member& b) { return a.id < b.id; });
  t = Targets(256, members, {80, 90, 86});
  CHECK(t == std::vector<uint32_t>{85, 86, 85});
  members[0].weight = 2;  // 128, 64, 64
  CHECK(Targets(256, members, {0, 0, 0}) == std::vector<uint32_t>{128, 64, 64});
}

TEST_CASE("a new ring gives every member its share within one partition, for 1 to 12 nodes") {
  for (int k = 1; k <= 12; k++) {
    for (int zones : {0, 3}) {
      Ring ring = MustNewRing(kDefaultPartitions, MakeMembers(k, zones));
      CAPTURE(k);
      CAPTURE(zones);
      CHECK(ring.epoch() == 1);
      CHECK(ring.partitions() == 256);
      CheckWithinOne(ring);
      CHECK(MaxShareError(ring) < 1.0);
      // Within one partition of the share bounds the std dev by 0.5 for
      // equal weights (each error is a fraction of the rounding).
      CHECK(ShareStdDev(ring) <= 0.5);
      MESSAGE("Q=256 nodes=" << k << " zones=" << zones << " stddev=" << ShareStdDev(ring)
                             << " distinct-node windows(N=3)="
                             << DistinctWindowFraction(ring, std::min(k, 3), false)
                             << " distinct-zone windows(N=3)="
                             << (zones ? DistinctWindowFraction(ring, std::min(k, 3), true) : 0));
    }
  }
}

TEST_CASE("weights are honoured: a weight-2 node owns twice the partitions") {
  std::vector<Member> members = MakeMembers(5, 0);
  members[1].weight = 2;
  members[3].weight = 3;
  Ring ring = MustNewRing(kDefaultPartitions, members);
  CheckWithinOne(ring);
  // Total weight 8: shares 32, 64, 32, 96, 32.
  CHECK(ring.PartitionsOf(NodeId(1)).size() == 64);
  CHECK(ring.PartitionsOf(NodeId(3)).size() == 96);
  CHECK(ring.PartitionsOf(NodeId(0)).size() == 32);
  // Uneven weights that do not divide Q.
  members = MakeMembers(7, 3);
  for (int i = 0; i < 7; i++) members[i].weight = static_cast<uint32_t>(1 + i % 4);
  ring = MustNewRing(1024, members);
  CheckWithinOne(ring);
}

TEST_CASE(
    "a new ring puts distinct nodes, and distinct zones where possible, on N consecutive "
    "partitions") {
  // Measured, not guaranteed (README.md, "Limits"). Distinct nodes: all
  // windows except where Q is not a multiple of the node count forces a
  // repeat at the wrap (3 nodes on 256 partitions cannot repeat with period
  // 3), so at least 99%. Distinct zones: compared with ZoneWindowBound,
  // the most any assignment can reach given the zones' sizes.
  for (int k = 3; k <= 12; k++) {
    Ring ring = MustNewRing(kDefaultPartitions, MakeMembers(k, 0));
    CAPTURE(k);
    CHECK(DistinctWindowFraction(ring, 3, false) >= 0.99);
  }
  for (int k = 3; k <= 12; k++) {
    Ring ring = MustNewRing(kDefaultPartitions, MakeMembers(k, 3));
    CAPTURE(k);
    double got = DistinctWindowFraction(ring, 3, true);
    double bound = test::ZoneWindowBound(ring, 3);
    MESSAGE("new ring, " << k << " nodes in 3 zones: distinct-zone windows " << got
                         << " of at most " << bound);
    CHECK(got >= 0.95 * bound);
    if (k % 3 == 0) CHECK(got >= 0.98);  // balanced zones
  }
}

// Adds node k to a ring of k nodes, then removes it again.
TEST_CASE("a join moves only the new node's share, all of it to the new node") {
  for (int zones : {0, 3}) {
    for (int k = 1; k <= 12; k++) {
      CAPTURE(k);
      CAPTURE(zones);
      Ring before = MustNewRing(kDefaultPartitions, MakeMembers(k, zones));
      Ring after = MustClaim(before, MakeMembers(k + 1, zones));
      CHECK(after.epoch() == 2);
      CheckWithinOne(after);
      std::vector<Move> moves = Moves(before, after);
      double share = 256.0 / (k + 1);
      CHECK(std::fabs(moves.size() - share) < 1.0);
      for (const Move& m : moves) CHECK(m.to == NodeId(k));
      CHECK(moves.size() == after.PartitionsOf(NodeId(k)).size());
      MESSAGE("join: " << k << " -> " << k + 1 << " nodes, zones=" << zones << ": moved "
                       << moves.size() << " (share " << share << ")"
                       << " distinct-zone windows after="
                       << (zones ? DistinctWindowFraction(after, std::min(k + 1, 3), true) : 0)
                       << " of at most " << (zones ? test::ZoneWindowBound(after, 3) : 0));
    }
  }
}

TEST_CASE("a leave moves only the leaving node's partitions") {
  for (int zones : {0, 3}) {
    for (int k = 2; k <= 12; k++) {
      CAPTURE(k);
      CAPTURE(zones);
      std::vector<Member> members = MakeMembers(k, zones);
      Ring before = MustNewRing(kDefaultPartitions, members);
      // Remove a node from the middle of the id order.
      uint64_t gone = NodeId(k / 2);
      members.erase(members.begin() + k / 2);
      Ring after = MustClaim(before, members);
      CheckWithinOne(after);
      std::vector<Move> moves = Moves(before, after);
      CHECK(moves.size() == before.PartitionsOf(gone).size());
      for (const Move& m : moves) CHECK(m.from == gone);
      CHECK(after.FindMember(gone) == nullptr);
    }
  }
}

TEST_CASE("growing 1 -> 24 nodes one at a time stays balanced and moves only to the new node") {
  Ring ring = MustNewRing(1024, MakeMembers(1, 3));
  size_t total_moved = 0;
  for (int k = 2; k <= 24; k++) {
    Ring next = MustClaim(ring, MakeMembers(k, 3));
    CheckWithinOne(next);
    std::vector<Move> moves = Moves(ring, next);
    for (const Move& m : moves) CHECK(m.to == NodeId(k - 1));
    CHECK(std::fabs(moves.size() - 1024.0 / k) < 1.0);
    total_moved += moves.size();
    ring = next;
  }
  MESSAGE("Q=1024 grown to 24 nodes in 3 zones: moved " << total_moved << ", distinct-zone windows "
                                                        << DistinctWindowFraction(ring, 3, true));
  CHECK(ring.epoch() == 24);
}

TEST_CASE("a weight change moves only the difference") {
  std::vector<Member> members = MakeMembers(4, 0);
  Ring before = MustNewRing(kDefaultPartitions, members);
  std::sort(members.begin(), members.end(),
            [](const Member& a, const Member& b) { return a.id < b.id; });
  members[0].weight = 2;  // share 64 -> 102.4
  Ring after = MustClaim(before, members);
  CheckWithinOne(after);
  std::vector<Move> moves = Moves(before, after);
  size_t gained = after.PartitionsOf(members[0].id).size() - 64;
  CHECK(moves.size() == gained);
  for (const Move& m : moves) CHECK(m.to == members[0].id);
}

TEST_CASE("a claim with the same members moves nothing") {
  for (int k = 1; k <= 8; k++) {
    Ring before = MustNewRing(kDefaultPartitions, MakeMembers(k, 2));
    Ring after = MustClaim(before, MakeMembers(k, 2));
    CHECK(Moves(before, after).empty());
    CHECK(after.epoch() == before.epoch() + 1);
  }
}

TEST_CASE("claim is deterministic: the same inputs in any order give the same ring") {
  uint64_t seed = kv::test::TestSeed(20240601);
  util::Random rnd(seed);
  for (int round = 0; round < 20; round++) {
    int k = 1 + static_cast<int>(rnd.Uniform(16));
    std::vector<Member> members = MakeMembers(k, static_cast<int>(rnd.Uniform(4)));
    for (Member& m : members) m.weight = 1 + static_cast<uint32_t>(rnd.Uniform(4));
    uint32_t q = uint32_t{1} << (4 + rnd.Uniform(7));
    Ring a = MustNewRing(q, members);
    std::reverse(members.begin(), members.end());
    Ring b = MustNewRing(q, members);
    CHECK(a == b);
    members.push_back(Member{NodeId(100), "z9", 2});
    Ring c = MustClaim(a, members);
    std::rotate(members.begin(), members.begin() + 1, members.end());
    Ring d = MustClaim(b, members);
    CHECK(c == d);
    CheckWithinOne(c);
  }
}

TEST_CASE("random joins, leaves and weight changes keep every invariant") {
  uint64_t seed = kv::test::TestSeed(7);
  util::Random rnd(seed);
  std::vector<Member> members = MakeMembers(3, 3);
  Ring ring = MustNewRing(512, members);
  int next_id = 3;
  for (int step = 0; step < 60; step++) {
    std::vector<Member> next = ring.members();
    uint64_t action = rnd.Uniform(3);
    if (action == 0 || next.size() <= 1) {
      next.push_back(Member{NodeId(next_id), "z" + std::to_string(next_id % 3),
                            1 + static_cast<uint32_t>(rnd.Uniform(3))});
      next_id++;
    } else if (action == 1) {
      next.erase(next.begin() + static_cast<long>(rnd.Uniform(next.size())));
    } else {
      next[rnd.Uniform(next.size())].weight = 1 + static_cast<uint32_t>(rnd.Uniform(3));
    }
    Ring after = MustClaim(ring, next);
    CheckWithinOne(after);
    // Minimal movement: a partition moves only away from a member that left
    // or owned more than its new target, and only to one below its target.
    std::vector<uint32_t> before_counts(after.members().size(), 0);
    for (uint32_t p = 0; p < ring.partitions(); p++) {
      int i = after.MemberIndex(ring.Owner(p));
      if (i >= 0) before_counts[i]++;
    }
    std::vector<uint32_t> after_counts = after.Counts();
    size_t required = 0;
    for (uint32_t p = 0; p < ring.partitions(); p++) {
      if (after.MemberIndex(ring.Owner(p)) < 0) required++;
    }
    for (size_t i = 0; i < after_counts.size(); i++) {
      if (before_counts[i] > after_counts[i]) required += before_counts[i] - after_counts[i];
    }
    CHECK(Moves(ring, after).size() == required);
    for (const Move& m : Moves(ring, after)) {
      int to = after.MemberIndex(m.to);
      REQUIRE(to >= 0);
      CHECK(after_counts[to] > before_counts[to]);
    }
    ring = after;
  }
}

TEST_CASE("claim rejects bad arguments") {
  Ring ring;
  ClaimOptions options;
  CHECK(NewRing(0, MakeMembers(2), 1, options, &ring).IsInvalidArgument());
  CHECK(NewRing(300, MakeMembers(2), 1, options, &ring).IsInvalidArgument());
  CHECK(NewRing(32768, MakeMembers(2), 1, options, &ring).IsInvalidArgument());
  CHECK(NewRing(256, {}, 1, options, &ring).IsInvalidArgument());
  CHECK(NewRing(256, MakeMembers(2), 0, options, &ring).IsInvalidArgument());
  CHECK(NewRing(256, {Member{0, "", 1}}, 1, options, &ring).IsInvalidArgument());
  CHECK(NewRing(256, {Member{5, "", 1}, Member{5, "", 1}}, 1, options, &ring).IsInvalidArgument());
  CHECK(NewRing(256, {Member{5, "", 0}}, 1, options, &ring).IsInvalidArgument());
  CHECK(NewRing(256, {Member{5, std::string(256, 'z'), 1}}, 1, options, &ring).IsInvalidArgument());
  options.target_n = 0;
  CHECK(NewRing(256, MakeMembers(2), 1, options, &ring).IsInvalidArgument());
  CHECK(Claim(Ring(), MakeMembers(2), 1, ClaimOptions(), &ring).IsInvalidArgument());
  CHECK(ring.partitions() == 0);  // untouched on failure
}

TEST_CASE("tiny rings: more members than partitions, Q = 1") {
  Ring ring = MustNewRing(1, MakeMembers(3));
  CHECK(ring.partitions() == 1);
  CheckWithinOne(ring);
  ring = MustNewRing(4, MakeMembers(6, 2));
  CheckWithinOne(ring);
  Ring grown = MustClaim(ring, MakeMembers(7, 2));
  CheckWithinOne(grown);
}

}  // namespace
}  // namespace kv::ring
