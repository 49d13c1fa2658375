// Membership is this node's view of the cluster (DESIGN.md section 5,
// "Failure detection"): its own digest and every member it knows, merged
// from gossip, with a gossip-style failure detector on top (van Renesse,
// Minsky and Hayden, "A Gossip-Style Failure Detection Service", 1998; the
// same heartbeat-and-digest scheme as Cassandra's Gossiper and Redis
// Cluster's PFAIL/FAIL, whose two-step suspicion it borrows).
//
// It is a pure state machine: no I/O, no clock, no randomness of its own.
// Time comes in as `now_ms` arguments (monotonic), peer choice uses an
// injected util::Random, and messages go in and out as cluster::Gossip
// values. The server drives it from a libuv timer and the bus; the unit
// tests drive several instances through a simulated network.
//
// Rules (src/cluster/MEMBERSHIP.md explains them at length):
// - Heartbeat. Every Tick bumps our own heartbeat. Its high bits are a
//   generation (the wall clock at boot, InitialHeartbeat), so a restarted
//   node's heartbeat is higher than anything it sent before the restart.
// - Liveness. A member whose heartbeat has not advanced here for
//   node_timeout_ms is *suspected* here. It is marked *down* only when a
//   second, independent source agrees: some other member's gossip listing
//   it as kDown at a heartbeat not older than the one we hold. On the wire,
//   kDown for a member other than the sender means "the sender suspects
//   it". A newer heartbeat clears suspicion and revives a down member.
// - Lifecycle states (joining, normal, leaving, left) are only changed by
//   the member itself (SetSelfState bumps the heartbeat, so the change
//   travels as its newest digest); kLeft is final for an id.
// - Forget removes a member and bans its id for forget_ban_ms (Redis's
//   60 s ban list), so gossip from nodes that have not forgotten it yet
//   does not bring it back.
//
// Every change of a member's state is logged (one notice line naming the
// node and the reason) and queued as a MemberEvent for the server to act on
// (hinted handoff when a member comes back up, for instance).
//
// Thread safety: none; one instance is owned by the loop thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/messages.h"
#include "ring/ring.h"
#include "util/random.h"
#include "util/status.h"

namespace kv::cluster {

// DO NOT CHANGE: heartbeat = generation << kHeartbeatGenerationShift +
// beats since boot. The generation is the wall clock at boot in ms.
constexpr int kHeartbeatGenerationShift = 20;
// DO NOT CHANGE: the first byte of an encoded membership file.
constexpr uint8_t kMembershipFormatV1 = 1;
// Limits enforced by the membership file decoder (and by OnGossip, which
// skips digests outside them).
constexpr size_t kMaxHostLength = 255;

// The heartbeat a node starts from after booting at wall clock
// `boot_wall_ms`, having persisted `persisted` (0 if none): the larger of
// boot_wall_ms << kHeartbeatGenerationShift and persisted + 1. The first
// term makes a restart's heartbeats exceed every earlier one as long as the
// wall clock moved forward by at least one ms per beat sent (a beat is a
// gossip interval, >= 1 ms); the second covers a clock that went back.
uint64_t InitialHeartbeat(int64_t boot_wall_ms, uint64_t persisted);
// The generation part of a heartbeat (the boot time of the run that sent it).
inline uint64_t HeartbeatGeneration(uint64_t hb) { return hb >> kHeartbeatGenerationShift; }

// A member as the snapshot accessors report it (CLUSTER NODES, kv-cluster
// status, INFO).
struct MemberInfo {
  uint64_t node_id = 0;
  std::string host;
  uint16_t port = 0;
  uint16_t bus_port = 0;
  std::string zone;
  uint32_t weight = 0;
  // kDown when the failure detector has confirmed it down, its lifecycle
  // state (joining, normal, leaving, left) otherwise.
  MemberState state = MemberState::kJoining;
  // Its own last announced lifecycle state, never kDown.
  MemberState lifecycle = MemberState::kJoining;
  uint64_t heartbeat = 0;
  uint64_t ring_epoch = 0;
  // Local ms since its heartbeat last advanced here (0 for self).
  int64_t ms_since_heartbeat = 0;
  bool suspected = false;  // suspected here (a down member is suspected too)
  size_t reporters = 0;    // other members whose gossip says it is down
  bool is_self = false;
};

// A state change of one member, as logged.
struct MemberEvent {
  enum class Kind {
    kAdded,         // a new member was learned (gossip, CLUSTER MEET or the file)
    kStateChanged,  // its lifecycle state changed (joining -> normal, ...)
    kSuspected,     // no heartbeat advance for node_timeout_ms here
    kUnsuspected,   // its heartbeat advanced again before it was confirmed down
    kDown,          // suspected here and confirmed by another member's gossip
    kUp,            // was down; a newer heartbeat revived it
    kRestarted,     // its heartbeat generation changed: the process restarted
    kForgotten,     // removed by Forget
  };
  Kind kind = Kind::kAdded;
  uint64_t node_id = 0;
  MemberState old_state = MemberState::kJoining;  // effective states (MemberInfo::state)
  MemberState new_state = MemberState::kJoining;
  int64_t at_ms = 0;
  std::string text;  // the log line, e.g. "node 3f2a... 127.0.0.1:7002 is now down (...)"
};
const char* MemberEventKindName(MemberEvent::Kind k);

// One peer to gossip to this round, with whether to attach our ring: the
// peer's last announced ring epoch is older than ours, or unknown.
struct GossipTarget {
  uint64_t node_id = 0;
  std::string host;
  uint16_t bus_port = 0;
  bool send_ring = false;
};

// What a Tick asks the caller to send: `gossip` (ring not attached; the
// caller adds its encoded ring for targets with send_ring) to each target.
struct GossipRound {
  std::vector<GossipTarget> targets;
  Gossip gossip;
};

// What OnGossip learned that the caller must act on.
struct GossipOutcome {
  // The gossip carried a ring newer, by (epoch, author), than the one set
  // by SetRingEpoch. The caller installs it (persists it, applies moves)
  // and then calls SetRingEpoch.
  std::optional<ring::Ring> newer_ring;
  // The message was ignored: its sender is ourselves or banned.
  bool ignored = false;
};

// The membership file (MEMBERSHIP.md, "Membership file"): our own digest
// and every peer we knew, persisted next to the ring.
struct PersistedMembership {
  uint64_t self_id = 0;
  // Self included, exactly once. State is a lifecycle state (never kDown);
  // ring_epoch is not stored (0 after decoding).
  std::vector<MemberDigest> members;
};

// Appends the version-1 encoding of `p` to *dst. REQUIRES: p passes the
// checks DecodeMembership makes.
void EncodeMembership(const PersistedMembership& p, std::string* dst);
// Decodes exactly `bytes`. Corruption (and *out untouched) on a bad
// checksum, unknown format, truncated or out-of-range field, duplicate or
// zero id, missing self, or trailing bytes. Never reads outside `bytes`.
[[nodiscard]] util::Status DecodeMembership(std::string_view bytes, PersistedMembership* out);

class Membership {
 public:
  struct Options {
    // Heartbeat silence after which a member is suspected here.
    int64_t node_timeout_ms = 15000;
    // Live peers gossiped to per Tick.
    size_t fanout = 3;
    // How long a forgotten id is ignored in gossip.
    int64_t forget_ban_ms = 60000;
    // Log a notice line per state change (the server does; the simulator
    // turns it off to keep test output readable; events are queued anyway).
    bool log = true;
  };

  // `self` is this node's digest: node_id != 0, heartbeat from
  // InitialHeartbeat, state kJoining or kNormal normally. `rng` is borrowed
  // and must outlive this object.
  Membership(const Options& options, const MemberDigest& self, util::Random* rng);

  // The membership of a node restarting from its file `p` at wall clock
  // `boot_wall_ms` (for the heartbeat generation), local time `now_ms`:
  // self from the file with heartbeat InitialHeartbeat(boot_wall_ms, its
  // persisted heartbeat), every peer known with the timers starting now.
  static std::unique_ptr<Membership> Restore(const Options& options, const PersistedMembership& p,
                                             int64_t boot_wall_ms, int64_t now_ms,
                                             util::Random* rng);

  // One gossip interval: bumps our heartbeat, suspects members silent for
  // node_timeout_ms, marks down suspects that another member confirmed,
  // expires bans, and picks this round's peers: `fanout` random members
  // not down (suspects included: they may just be slow), plus, with
  // probability down / (live + 1) (Cassandra's rule), one random down
  // member so a healed one is rediscovered. Left members are never chosen.
  GossipRound Tick(int64_t now_ms);

  // The digest this node gossips: self first, then every known member,
  // each peer's state kDown if suspected or down here. No ring.
  Gossip MakeGossip() const;

  // Merges gossip received from `from_id` (the authenticated peer of the
  // bus link). Ignored whole if from_id is us or banned. Per digest:
  // unknown ids are added; a higher heartbeat than ours wins (liveness
  // refreshed, suspicion cleared, a down member revived, address, zone,
  // weight, ring epoch and lifecycle state taken from it unless it says
  // kDown); kDown at a heartbeat equal to ours is a suspicion report from
  // from_id; older heartbeats are ignored; a left member is never changed;
  // banned ids and digests with id 0 or oversized fields are skipped. A
  // digest about ourselves with a heartbeat > ours (only possible after
  // a wall clock step back) moves our heartbeat past it. A ring blob that
  // fails to decode is logged and ignored.
  GossipOutcome OnGossip(uint64_t from_id, const Gossip& gossip, int64_t now_ms);

  // CLUSTER MEET / seed: a member known by id and address (from the bus
  // handshake); zone, weight and state come with its first gossip. Lifts a
  // ban on the id. Known ids only get their address updated.
  // InvalidArgument for id 0 or our own id.
  [[nodiscard]] util::Status Meet(uint64_t node_id, std::string_view host, uint16_t port,
                                  uint16_t bus_port, int64_t now_ms);

  // Our lifecycle: joining -> normal, joining/normal -> leaving, leaving ->
  // normal (leave cancelled), any -> left. Bumps our heartbeat so the change
  // outranks every earlier digest. InvalidArgument for kDown or leaving
  // kLeft; OK and nothing done for the current state.
  [[nodiscard]] util::Status SetSelfState(MemberState state);

  // Removes a member and ignores gossip about (and from) it for
  // forget_ban_ms. NotFound if unknown, InvalidArgument for our own id.
  [[nodiscard]] util::Status Forget(uint64_t node_id, int64_t now_ms);

  // The ring this node has installed: its epoch travels in our digest and
  // decides which peers are sent the ring; (epoch, author) decides whether
  // a gossiped ring is newer.
  void SetRingEpoch(uint64_t epoch, uint64_t author);

  // Accessors.
  uint64_t self_id() const { return self_.node_id; }
  const MemberDigest& self() const { return self_; }
  // Every known member, self first then by id.
  std::vector<MemberInfo> Members(int64_t now_ms) const;
  // Ids of members neither down nor left (self included), ascending.
  std::vector<uint64_t> LiveMembers() const;
  // True for self (unless left) and for known members neither down nor left.
  bool IsUp(uint64_t node_id) const;
  bool IsKnown(uint64_t node_id) const;
  bool IsBanned(uint64_t node_id, int64_t now_ms) const;

  // Events queued since the last call, oldest first.
  std::vector<MemberEvent> TakeEvents();

  // What to persist: self and every known member.
  PersistedMembership ToPersisted() const;

 private:
  struct Peer {
    MemberDigest digest;  // state = lifecycle, never kDown
    bool heard = false;   // a digest from gossip (not only Meet) has arrived
    int64_t last_advance_ms = 0;
    bool suspected = false;
    int64_t suspected_since_ms = 0;
    bool down = false;
    // Members whose gossip listed this one as kDown at digest.heartbeat,
    // and when; cleared when the heartbeat advances.
    std::map<uint64_t, int64_t> reporters;
  };

  static MemberState Effective(const Peer& p);
  void AddReport(Peer* p, uint64_t from_id, int64_t now_ms);
  void MaybeConfirm(Peer* p, int64_t now_ms);
  void Advance(Peer* p, const MemberDigest& d, int64_t now_ms);
  void Emit(MemberEvent::Kind kind, const MemberDigest& d, MemberState old_state,
            MemberState new_state, int64_t now_ms, const std::string& reason);

  Options options_;
  util::Random* rng_;
  MemberDigest self_;
  uint64_t ring_author_ = 0;
  std::map<uint64_t, Peer> peers_;
  std::map<uint64_t, int64_t> banned_until_;
  std::vector<MemberEvent> events_;
};

}  // namespace kv::cluster
