#include "ring/claim.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "ring/partition.h"

namespace kv::ring {

std::vector<uint32_t> Targets(uint32_t partitions, const std::vector<Member>& members,
                              const std::vector<uint32_t>& current_counts) {
  uint64_t total_weight = 0;
  for (const Member& m : members) total_weight += m.weight;
  std::vector<uint32_t> targets(members.size(), 0);
  std::vector<uint64_t> fraction(members.size(), 0);  // numerator over total_weight
  uint64_t assigned = 0;
  for (size_t i = 0; i < members.size(); i++) {
    uint64_t exact = uint64_t{partitions} * members[i].weight;
    targets[i] = static_cast<uint32_t>(exact / total_weight);
    fraction[i] = exact % total_weight;
    assigned += targets[i];
  }
  // The leftover goes to members with a fractional share; there are at least
  // as many of them as partitions left over (the fractions sum to it).
  std::vector<size_t> order;
  for (size_t i = 0; i < members.size(); i++) {
    if (fraction[i] > 0) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    bool keep_a = current_counts[a] > targets[a];
    bool keep_b = current_counts[b] > targets[b];
    return std::make_tuple(!keep_a, fraction[b], members[a].id) <
           std::make_tuple(!keep_b, fraction[a], members[b].id);
  });
  for (size_t k = 0; assigned < partitions; k++, assigned++) targets[order[k]]++;
  return targets;
}

namespace {

// Penalties for putting a node at distance < target_n of a partition owned
// by itself or by another node of its zone. A node repeat is far worse than
// a zone repeat: the preference list must skip it, and it loses a replica
// if that node fails. Only relative sizes matter.
constexpr int kSameNodePenalty = 100;
constexpr int kSameZonePenalty = 10;

// The working state of one claim. Member indices are into the sorted
// member vector.
class Claimer {
 public:
  Claimer(uint32_t q, const std::vector<Member>& members, uint32_t target_n)
      : q_(q),
        members_(members),
        owner_(q, kNone),
        count_(members.size(), 0),
        held_(members.size()) {
    std::map<std::string, uint32_t> zone_ids;  // sorted by name: deterministic
    for (const Member& m : members) zone_ids.emplace(m.zone, 0);
    uint32_t next = 0;
    for (auto& [name, id] : zone_ids) id = next++;
    for (const Member& m : members) zone_.push_back(zone_ids[m.zone]);
    zone_count_.assign(next, 0);
    zone_target_.assign(next, 0);
    // Distinct non-zero offsets within target_n - 1 either side (fewer on
    // tiny rings, where +d and -d can meet).
    for (uint32_t d = 1; d < target_n && d < q; d++) {
      for (uint32_t off : {d, q - d}) {
        if (std::find(offsets_.begin(), offsets_.end(), off) == offsets_.end()) {
          offsets_.push_back(off);
        }
      }
    }
  }

  void Set(uint32_t p, int32_t node) {
    if (owner_[p] != kNone) {
      count_[owner_[p]]--;
      zone_count_[zone_[owner_[p]]]--;
      held_[owner_[p]].erase(p);
    }
    owner_[p] = node;
    if (node != kNone) {
      count_[node]++;
      zone_count_[zone_[node]]++;
      held_[node].insert(p);
    }
  }

  void SetTargets(std::vector<uint32_t> targets) {
    target_ = std::move(targets);
    for (size_t i = 0; i < target_.size(); i++) zone_target_[zone_[i]] += target_[i];
  }

  const std::vector<uint32_t>& counts() const { return count_; }

  // Places every unowned partition, in ascending order, on the member below
  // its target with the lowest penalty; ties go to the zone, then the
  // member, that is least filled relative to its target (a stride
  // scheduler: it interleaves zones and members in proportion to their
  // weight), then to the lowest id.
  void PlaceUnowned() {
    for (uint32_t p = 0; p < q_; p++) {
      if (owner_[p] != kNone) continue;
      int32_t best = kNone;
      int best_penalty = 0;
      for (int32_t c = 0; c < static_cast<int32_t>(members_.size()); c++) {
        if (count_[c] >= target_[c]) continue;
        int penalty = Penalty(c, p);
        if (best == kNone || penalty < best_penalty ||
            (penalty == best_penalty && LessFilled(c, best))) {
          best = c;
          best_penalty = penalty;
        }
      }
      Set(p, best);  // a member below target exists while a partition is unowned
    }
  }

  // Moves partitions from members above their target to members below it,
  // one at a time, each time the (partition, receiver) pair that improves
  // the neighbourhoods most (penalty of the receiver there minus penalty of
  // the giver), then from the giver with the largest excess, then the
  // partition farthest from what the receiver already holds (spreads a new
  // node around the ring), then the least-filled receiver, lowest partition,
  // lowest id.
  void MoveExcess() {
    while (true) {
      bool found = false;
      std::tuple<int, int64_t, int64_t> best_key;  // (delta, -excess, -distance)
      uint32_t best_p = 0;
      int32_t best_c = kNone;
      for (uint32_t p = 0; p < q_; p++) {
        int32_t giver = owner_[p];
        if (count_[giver] <= target_[giver]) continue;
        int giver_penalty = Penalty(giver, p);
        int64_t excess = int64_t{count_[giver]} - target_[giver];
        for (int32_t c = 0; c < static_cast<int32_t>(members_.size()); c++) {
          if (count_[c] >= target_[c]) continue;
          // The distance term is only computed when the cheaper terms tie.
          std::pair<int, int64_t> head(Penalty(c, p) - giver_penalty, -excess);
          if (found && head > std::make_pair(std::get<0>(best_key), std::get<1>(best_key))) {
            continue;
          }
          auto key =
              std::make_tuple(head.first, head.second, -static_cast<int64_t>(DistanceToHeld(c, p)));
          if (!found || key < best_key ||
              (key == best_key && c != best_c && LessFilled(c, best_c))) {
            found = true;
            best_key = key;
            best_p = p;
            best_c = c;
          }
        }
      }
      if (!found) return;
      Set(best_p, best_c);
    }
  }

  std::vector<uint64_t> OwnerIds() const {
    std::vector<uint64_t> ids;
    ids.reserve(q_);
    for (int32_t o : owner_) ids.push_back(members_[o].id);
    return ids;
  }

 private:
  static constexpr int32_t kNone = -1;

  // How much putting member c at partition p repeats a node or a zone
  // among the owners within target_n - 1 partitions either side.
  int Penalty(int32_t c, uint32_t p) const {
    int penalty = 0;
    for (uint32_t off : offsets_) {
      int32_t o = owner_[(p + off) & (q_ - 1)];
      if (o == kNone) continue;
      if (o == c) {
        penalty += kSameNodePenalty;
      } else if (zone_[o] == zone_[c]) {
        penalty += kSameZonePenalty;
      }
    }
    return penalty;
  }

  // Ring distance from p to the nearest partition c holds (q if none).
  uint32_t DistanceToHeld(int32_t c, uint32_t p) const {
    const std::set<uint32_t>& held = held_[c];
    if (held.empty()) return q_;
    auto it = held.lower_bound(p);
    uint32_t after = it == held.end() ? *held.begin() + q_ - p : *it - p;
    uint32_t before = it == held.begin() ? p + q_ - *held.rbegin() : p - *std::prev(it);
    return std::min(after, before);
  }

  // True if a is less filled than b: zone first, then member (count/target
  // compared by cross-multiplying), then lower id. REQUIRES: both targets > 0.
  bool LessFilled(int32_t a, int32_t b) const {
    uint32_t za = zone_[a];
    uint32_t zb = zone_[b];
    if (za != zb) {
      uint64_t lhs = uint64_t{zone_count_[za]} * zone_target_[zb];
      uint64_t rhs = uint64_t{zone_count_[zb]} * zone_target_[za];
      if (lhs != rhs) return lhs < rhs;
    }
    uint64_t lhs = uint64_t{count_[a]} * target_[b];
    uint64_t rhs = uint64_t{count_[b]} * target_[a];
    if (lhs != rhs) return lhs < rhs;
    return members_[a].id < members_[b].id;
  }

  uint32_t q_;
  const std::vector<Member>& members_;
  std::vector<uint32_t> zone_;  // zone index per member
  std::vector<uint32_t> offsets_;
  std::vector<int32_t> owner_;
  std::vector<uint32_t> count_;
  std::vector<uint32_t> target_;
  std::vector<uint32_t> zone_count_;
  std::vector<uint32_t> zone_target_;
  std::vector<std::set<uint32_t>> held_;
};

Status CheckArgs(uint64_t author, const ClaimOptions& options, std::vector<Member>* members) {
  if (author == 0) return Status::InvalidArgument("ring author must be a node id (not 0)");
  if (options.target_n == 0) return Status::InvalidArgument("target_n must be at least 1");
  return ValidateMembers(members);
}

Status Run(uint64_t epoch, const Ring* current, uint32_t q, std::vector<Member> members,
           uint64_t author, const ClaimOptions& options, Ring* out) {
  Claimer claimer(q, members, options.target_n);
  if (current != nullptr) {
    for (uint32_t p = 0; p < q; p++) {
      auto it = std::lower_bound(members.begin(), members.end(), current->Owner(p),
                                 [](const Member& m, uint64_t id) { return m.id < id; });
      if (it != members.end() && it->id == current->Owner(p)) {
        claimer.Set(p, static_cast<int32_t>(it - members.begin()));
      }
    }
  }
  claimer.SetTargets(Targets(q, members, claimer.counts()));
  claimer.PlaceUnowned();
  claimer.MoveExcess();
  std::vector<uint64_t> owners = claimer.OwnerIds();
  return Ring::Build(epoch, author, std::move(members), owners, out);
}

}  // namespace

Status NewRing(uint32_t partitions, std::vector<Member> members, uint64_t author,
               const ClaimOptions& options, Ring* out) {
  if (!IsValidPartitionCount(partitions)) {
    return Status::InvalidArgument("partition count must be a power of two in [1, 16384]");
  }
  Status s = CheckArgs(author, options, &members);
  if (!s.ok()) return s;
  return Run(1, nullptr, partitions, std::move(members), author, options, out);
}

Status Claim(const Ring& current, std::vector<Member> members, uint64_t author,
             const ClaimOptions& options, Ring* out) {
  if (current.partitions() == 0) return Status::InvalidArgument("no current ring");
  Status s = CheckArgs(author, options, &members);
  if (!s.ok()) return s;
  return Run(current.epoch() + 1, &current, current.partitions(), std::move(members), author,
             options, out);
}

}  // namespace kv::ring
