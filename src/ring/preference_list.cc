#include "ring/preference_list.h"

#include <string_view>
#include <unordered_set>

#include "util/log.h"

namespace kv::ring {

PreferenceList PreferenceListOf(const Ring& ring, uint32_t p, uint32_t n) {
  KV_ASSERT(p < ring.partitions() && n >= 1);
  const std::vector<Member>& members = ring.members();
  const uint32_t q = ring.partitions();
  std::vector<bool> listed(members.size(), false);
  std::unordered_set<std::string_view> zones;
  PreferenceList out;

  // First pass: distinct nodes in zones not yet listed.
  for (uint32_t i = 0; i < q && out.primaries.size() < n; i++) {
    uint32_t owner = ring.OwnerIndex((p + i) & (q - 1));
    if (listed[owner] || zones.count(members[owner].zone) != 0) continue;
    listed[owner] = true;
    zones.insert(members[owner].zone);
    out.primaries.push_back(members[owner].id);
  }
  // Second pass, then the fallbacks: distinct nodes in walk order.
  for (uint32_t i = 0; i < q; i++) {
    uint32_t owner = ring.OwnerIndex((p + i) & (q - 1));
    if (listed[owner]) continue;
    listed[owner] = true;
    if (out.primaries.size() < n) {
      out.primaries.push_back(members[owner].id);
    } else {
      out.fallbacks.push_back(members[owner].id);
    }
  }
  // Members that own nothing: only ever fallbacks, by id.
  for (size_t m = 0; m < members.size(); m++) {
    if (!listed[m]) out.fallbacks.push_back(members[m].id);
  }
  return out;
}

}  // namespace kv::ring
