// Preference lists (ring/preference_list.h): N distinct nodes, distinct
// zones first, the owner first, and every other member as a fallback.
#include "ring/preference_list.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "ring/partition.h"
#include "ring/ring.h"
#include "ring_test_util.h"

namespace kv::ring {
namespace {

using test::MakeMembers;
using test::MustClaim;
using test::MustNewRing;

Ring Handmade(const std::vector<Member>& members, const std::vector<uint64_t>& owners) {
  Ring ring;
  Status s = Ring::Build(1, 1, members, owners, &ring);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  return ring;
}

TEST_CASE("walks clockwise from the partition, skipping repeated nodes") {
  // Owners of partitions 0..7, all in one zone.
  Ring ring = Handmade({{1, "", 1}, {2, "", 1}, {3, "", 1}, {4, "", 1}}, {1, 1, 2, 1, 3, 4, 2, 3});
  PreferenceList pl = PreferenceListOf(ring, 0, 3);
  CHECK(pl.primaries == std::vector<uint64_t>{1, 2, 3});
  CHECK(pl.fallbacks == std::vector<uint64_t>{4});
  pl = PreferenceListOf(ring, 6, 3);  // 2, 3, wraps to 1
  CHECK(pl.primaries == std::vector<uint64_t>{2, 3, 1});
  CHECK(pl.fallbacks == std::vector<uint64_t>{4});
  pl = PreferenceListOf(ring, 5, 2);
  CHECK(pl.primaries == std::vector<uint64_t>{4, 2});
  CHECK(pl.fallbacks == std::vector<uint64_t>{3, 1});
}

TEST_CASE("distinct zones come first, then the remaining nodes in walk order") {
  // Zones: 1,2 in a; 3 in b; 4 in c. Walk from 0: 1(a) 2(a) 3(b) 4(c).
  Ring ring = Handmade({{1, "a", 1}, {2, "a", 1}, {3, "b", 1}, {4, "c", 1}}, {1, 2, 3, 4});
  PreferenceList pl = PreferenceListOf(ring, 0, 3);
  CHECK(pl.primaries == std::vector<uint64_t>{1, 3, 4});
  CHECK(pl.fallbacks == std::vector<uint64_t>{2});
  // Only two zones among 1,2,3 for N=3 when 4 is left out: fill by walk order.
  ring = Handmade({{1, "a", 1}, {2, "a", 1}, {3, "b", 1}, {4, "a", 1}}, {1, 2, 3, 4});
  pl = PreferenceListOf(ring, 0, 3);
  CHECK(pl.primaries == std::vector<uint64_t>{1, 3, 2});
  CHECK(pl.fallbacks == std::vector<uint64_t>{4});
}

TEST_CASE("members owning no partition are fallbacks only, by id") {
  Ring ring = Handmade({{1, "", 1}, {9, "", 1}, {5, "", 1}, {7, "", 1}}, {7, 1});
  PreferenceList pl = PreferenceListOf(ring, 1, 3);
  CHECK(pl.primaries == std::vector<uint64_t>{1, 7});  // only two owners exist
  CHECK(pl.fallbacks == std::vector<uint64_t>{5, 9});
}

TEST_CASE("claimed rings: N distinct primaries, the owner first, fallbacks are the rest") {
  for (int zones : {0, 2, 3, 4}) {
    for (int k = 1; k <= 12; k++) {
      Ring ring = MustNewRing(kDefaultPartitions, MakeMembers(k, zones));
      std::set<std::string> all_zones;
      for (const Member& m : ring.members()) all_zones.insert(m.zone);
      for (uint32_t n : {1u, 2u, 3u, 5u}) {
        for (uint32_t p = 0; p < ring.partitions(); p++) {
          PreferenceList pl = PreferenceListOf(ring, p, n);
          CAPTURE(zones);
          CAPTURE(k);
          CAPTURE(n);
          CAPTURE(p);
          REQUIRE(pl.primaries.size() == std::min<size_t>(n, k));
          REQUIRE(pl.primaries[0] == ring.Owner(p));
          std::set<uint64_t> nodes(pl.primaries.begin(), pl.primaries.end());
          REQUIRE(nodes.size() == pl.primaries.size());
          nodes.insert(pl.fallbacks.begin(), pl.fallbacks.end());
          REQUIRE(nodes.size() == static_cast<size_t>(k));
          REQUIRE(pl.primaries.size() + pl.fallbacks.size() == static_cast<size_t>(k));
          // Guaranteed by the walk: as many distinct zones as exist, up to n.
          std::set<std::string> zs;
          for (uint64_t id : pl.primaries) zs.insert(ring.FindMember(id)->zone);
          REQUIRE(zs.size() == std::min<size_t>({n, all_zones.size(), pl.primaries.size()}));
        }
      }
    }
  }
}

TEST_CASE("with 3 zones and N=3 every preference list spans 3 zones, also after joins and leaves") {
  Ring ring = MustNewRing(kDefaultPartitions, MakeMembers(3, 3));
  for (int k = 4; k <= 10; k++) {
    ring = MustClaim(ring, MakeMembers(k, 3));
    for (uint32_t p = 0; p < ring.partitions(); p++) {
      std::set<std::string> zs;
      for (uint64_t id : PreferenceListOf(ring, p, 3).primaries) {
        zs.insert(ring.FindMember(id)->zone);
      }
      REQUIRE(zs.size() == 3);
    }
  }
  std::vector<Member> members = MakeMembers(10, 3);
  members.erase(members.begin());
  ring = MustClaim(ring, members);
  for (uint32_t p = 0; p < ring.partitions(); p++) {
    std::set<std::string> zs;
    for (uint64_t id : PreferenceListOf(ring, p, 3).primaries) zs.insert(ring.FindMember(id)->zone);
    REQUIRE(zs.size() == 3);
  }
}

}  // namespace
}  // namespace kv::ring
