// Helpers shared by the ring tests: member sets, per-node statistics and
// the fraction of partitions whose first N owners are distinct.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ring/claim.h"
#include "ring/ring.h"

namespace kv::ring::test {

// Ids that are neither small nor ordered like the indices, as random node
// ids would be.
inline uint64_t NodeId(int i) { return 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(i + 1); }

// k members; member i is in zone "z<i % zones>" (no zone when zones == 0).
inline std::vector<Member> MakeMembers(int k, int zones = 0, uint32_t weight = 1) {
  std::vector<Member> members;
  for (int i = 0; i < k; i++) {
    Member m;
    m.id = NodeId(i);
    if (zones > 0) m.zone = "z" + std::to_string(i % zones);
    m.weight = weight;
    members.push_back(m);
  }
  return members;
}

inline Ring MustNewRing(uint32_t q, std::vector<Member> members, uint32_t n = 3) {
  Ring ring;
  ClaimOptions options;
  options.target_n = n;
  Status s = NewRing(q, std::move(members), NodeId(0), options, &ring);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  return ring;
}

inline Ring MustClaim(const Ring& current, std::vector<Member> members, uint32_t n = 3) {
  Ring ring;
  ClaimOptions options;
  options.target_n = n;
  Status s = Claim(current, std::move(members), NodeId(0), options, &ring);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  return ring;
}

// Exact weighted share of member i.
inline double Share(const Ring& ring, size_t i) {
  double total = 0;
  for (const Member& m : ring.members()) total += m.weight;
  return ring.partitions() * ring.members()[i].weight / total;
}

// Standard deviation of (partitions owned - exact share) over members.
inline double ShareStdDev(const Ring& ring) {
  std::vector<uint32_t> counts = ring.Counts();
  double sum = 0;
  for (size_t i = 0; i < counts.size(); i++) {
    double d = counts[i] - Share(ring, i);
    sum += d * d;
  }
  return std::sqrt(sum / counts.size());
}

// Largest |partitions owned - exact share| over members.
inline double MaxShareError(const Ring& ring) {
  std::vector<uint32_t> counts = ring.Counts();
  double worst = 0;
  for (size_t i = 0; i < counts.size(); i++) {
    worst = std::max(worst, std::fabs(counts[i] - Share(ring, i)));
  }
  return worst;
}

// Fraction of partitions p whose owners of p .. p+n-1 are n distinct nodes
// (and, if `zones`, in n distinct zones): the claim's own quality, before
// the preference list walks further to fix a window.
inline double DistinctWindowFraction(const Ring& ring, uint32_t n, bool zones) {
  uint32_t q = ring.partitions();
  uint32_t good = 0;
  for (uint32_t p = 0; p < q; p++) {
    std::set<uint64_t> nodes;
    std::set<std::string> zone_set;
    for (uint32_t i = 0; i < n; i++) {
      uint64_t owner = ring.Owner((p + i) % q);
      nodes.insert(owner);
      zone_set.insert(ring.FindMember(owner)->zone);
    }
    if (nodes.size() == n && (!zones || zone_set.size() == n)) good++;
  }
  return static_cast<double>(good) / q;
}

// Upper bound on DistinctWindowFraction(ring, n, true) when the ring has
// exactly n zones: a window of n distinct zones holds exactly one partition
// of each zone and each partition lies in n windows, so there are at most
// n * (partitions of the smallest zone) such windows.
inline double ZoneWindowBound(const Ring& ring, uint32_t n) {
  std::map<std::string, uint32_t> per_zone;
  for (uint32_t p = 0; p < ring.partitions(); p++) per_zone[ring.FindMember(ring.Owner(p))->zone]++;
  if (per_zone.size() < n) return 0;
  uint32_t smallest = ring.partitions();
  for (const auto& [zone, count] : per_zone) smallest = std::min(smallest, count);
  return std::min(1.0, static_cast<double>(n) * smallest / ring.partitions());
}

}  // namespace kv::ring::test
