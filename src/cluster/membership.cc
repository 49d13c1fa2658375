#include "cluster/membership.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <utility>

#include "cluster/node_id.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/log.h"

namespace kv::cluster {

using util::Status;

namespace {

std::string Describe(const MemberDigest& d) {
  std::string s = "node " + NodeIdHex(d.node_id) + " ";
  s += d.host.empty() ? "?" : d.host;
  s += ":" + std::to_string(d.port);
  return s;
}

bool IsLifecycle(MemberState s) { return s != MemberState::kDown; }

// Digest fields we refuse to store, whatever the wire decoder accepted.
bool DigestAcceptable(const MemberDigest& d) {
  return d.node_id != 0 && d.host.size() <= kMaxHostLength &&
         d.zone.size() <= ring::kMaxZoneLength && d.weight <= ring::kMaxWeight;
}

}  // namespace

uint64_t InitialHeartbeat(int64_t boot_wall_ms, uint64_t persisted) {
  uint64_t gen = boot_wall_ms > 0 ? static_cast<uint64_t>(boot_wall_ms) : 0;
  uint64_t hb = gen << kHeartbeatGenerationShift;
  return std::max(hb, persisted + 1);
}

const char* MemberEventKindName(MemberEvent::Kind k) {
  switch (k) {
    case MemberEvent::Kind::kAdded:
      return "added";
    case MemberEvent::Kind::kStateChanged:
      return "state-changed";
    case MemberEvent::Kind::kSuspected:
      return "suspected";
    case MemberEvent::Kind::kUnsuspected:
      return "unsuspected";
    case MemberEvent::Kind::kDown:
      return "down";
    case MemberEvent::Kind::kUp:
      return "up";
    case MemberEvent::Kind::kRestarted:
      return "restarted";
    case MemberEvent::Kind::kForgotten:
      return "forgotten";
  }
  return "?";
}

// ---------------------------------------------------------------------------
// Membership file

namespace {

constexpr size_t kMinMemberBytes = 8 + 1 + 2 + 2 + 1 + 1 + 1 + 8;

void PutFixed16(std::string* dst, uint16_t v) {
  dst->push_back(static_cast<char>(v & 0xff));
  dst->push_back(static_cast<char>(v >> 8));
}

bool GetFixed16(std::string_view* in, uint16_t* v) {
  if (in->size() < 2) return false;
  *v = static_cast<uint16_t>(static_cast<uint8_t>((*in)[0]) |
                             (static_cast<uint16_t>(static_cast<uint8_t>((*in)[1])) << 8));
  in->remove_prefix(2);
  return true;
}

Status Bad(const char* what) { return Status::Corruption(std::string("membership file: ") + what); }

}  // namespace

void EncodeMembership(const PersistedMembership& p, std::string* dst) {
  size_t start = dst->size();
  std::vector<const MemberDigest*> sorted;
  sorted.reserve(p.members.size());
  for (const MemberDigest& m : p.members) sorted.push_back(&m);
  std::sort(sorted.begin(), sorted.end(),
            [](const MemberDigest* a, const MemberDigest* b) { return a->node_id < b->node_id; });
  dst->push_back(static_cast<char>(kMembershipFormatV1));
  util::PutFixed64(dst, p.self_id);
  util::PutVarint64(dst, sorted.size());
  for (const MemberDigest* m : sorted) {
    util::PutFixed64(dst, m->node_id);
    util::PutLengthPrefixed(dst, m->host);
    PutFixed16(dst, m->port);
    PutFixed16(dst, m->bus_port);
    util::PutLengthPrefixed(dst, m->zone);
    util::PutVarint64(dst, m->weight);
    dst->push_back(static_cast<char>(m->state));
    util::PutFixed64(dst, m->heartbeat);
  }
  uint32_t crc = util::crc32c::Value(dst->data() + start, dst->size() - start);
  util::PutFixed32(dst, util::crc32c::Mask(crc));
}

Status DecodeMembership(std::string_view bytes, PersistedMembership* out) {
  if (bytes.size() < 1 + 4) return Bad("truncated (shorter than format byte and checksum)");
  if (static_cast<uint8_t>(bytes[0]) != kMembershipFormatV1) return Bad("unknown format");
  std::string_view body = bytes.substr(0, bytes.size() - 4);
  uint32_t stored = util::DecodeFixed32(bytes.data() + bytes.size() - 4);
  if (util::crc32c::Unmask(stored) != util::crc32c::Value(body.data(), body.size())) {
    return Bad("checksum mismatch");
  }
  std::string_view in = body.substr(1);
  PersistedMembership p;
  uint64_t count = 0;
  if (!util::GetFixed64(&in, &p.self_id)) return Bad("truncated at self_id");
  if (p.self_id == 0) return Bad("self_id is 0");
  if (!util::GetVarint64(&in, &count)) return Bad("truncated at count");
  if (count == 0 || count > ring::kMaxMembers || count > in.size() / kMinMemberBytes) {
    return Bad("member count out of range");
  }
  p.members.reserve(count);
  bool self_seen = false;
  for (uint64_t i = 0; i < count; i++) {
    MemberDigest m;
    std::string_view host, zone;
    uint64_t weight = 0;
    if (!util::GetFixed64(&in, &m.node_id)) return Bad("truncated at id");
    if (m.node_id == 0) return Bad("member id is 0");
    if (!p.members.empty() && m.node_id <= p.members.back().node_id) {
      return Bad("member ids not strictly ascending");
    }
    if (!util::GetLengthPrefixed(&in, &host)) return Bad("truncated at host");
    if (host.size() > kMaxHostLength) return Bad("host too long");
    if (!GetFixed16(&in, &m.port) || !GetFixed16(&in, &m.bus_port)) {
      return Bad("truncated at port");
    }
    if (!util::GetLengthPrefixed(&in, &zone)) return Bad("truncated at zone");
    if (zone.size() > ring::kMaxZoneLength) return Bad("zone too long");
    if (!util::GetVarint64(&in, &weight)) return Bad("truncated at weight");
    if (weight > ring::kMaxWeight) return Bad("weight out of range");
    if (in.empty()) return Bad("truncated at state");
    uint8_t state = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    if (state > kMaxMemberState || !IsLifecycle(static_cast<MemberState>(state))) {
      return Bad("invalid state");
    }
    if (!util::GetFixed64(&in, &m.heartbeat)) return Bad("truncated at heartbeat");
    m.host.assign(host);
    m.zone.assign(zone);
    m.weight = static_cast<uint32_t>(weight);
    m.state = static_cast<MemberState>(state);
    if (m.node_id == p.self_id) self_seen = true;
    p.members.push_back(std::move(m));
  }
  if (!in.empty()) return Bad("trailing bytes");
  if (!self_seen) return Bad("self_id is not among the members");
  *out = std::move(p);
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Membership

Membership::Membership(const Options& options, const MemberDigest& self, util::Random* rng)
    : options_(options), rng_(rng), self_(self) {
  KV_ASSERT(self_.node_id != 0);
  if (self_.state == MemberState::kDown) self_.state = MemberState::kNormal;
}

std::unique_ptr<Membership> Membership::Restore(const Options& options,
                                                const PersistedMembership& p, int64_t boot_wall_ms,
                                                int64_t now_ms, util::Random* rng) {
  MemberDigest self;
  self.node_id = p.self_id;
  for (const MemberDigest& m : p.members) {
    if (m.node_id == p.self_id) self = m;
  }
  self.heartbeat = InitialHeartbeat(boot_wall_ms, self.heartbeat);
  auto mem = std::make_unique<Membership>(options, self, rng);
  for (const MemberDigest& m : p.members) {
    if (m.node_id == p.self_id || !DigestAcceptable(m)) continue;
    Peer peer;
    peer.digest = m;
    peer.digest.ring_epoch = 0;
    if (!IsLifecycle(peer.digest.state)) peer.digest.state = MemberState::kNormal;
    peer.heard = m.heartbeat != 0;
    peer.last_advance_ms = now_ms;
    mem->peers_.emplace(m.node_id, std::move(peer));
    mem->Emit(MemberEvent::Kind::kAdded, m, m.state, m.state, now_ms, "from the membership file");
  }
  return mem;
}

MemberState Membership::Effective(const Peer& p) {
  if (p.digest.state == MemberState::kLeft) return MemberState::kLeft;
  if (p.down) return MemberState::kDown;
  return p.digest.state;
}

void Membership::Emit(MemberEvent::Kind kind, const MemberDigest& d, MemberState old_state,
                      MemberState new_state, int64_t now_ms, const std::string& reason) {
  MemberEvent e;
  e.kind = kind;
  e.node_id = d.node_id;
  e.old_state = old_state;
  e.new_state = new_state;
  e.at_ms = now_ms;
  e.text = Describe(d);
  switch (kind) {
    case MemberEvent::Kind::kAdded:
      e.text += std::string(" added as ") + MemberStateName(new_state);
      break;
    case MemberEvent::Kind::kStateChanged:
      e.text += std::string(" is now ") + MemberStateName(new_state) + " (was " +
                MemberStateName(old_state) + ")";
      break;
    case MemberEvent::Kind::kSuspected:
      e.text += " is suspected here";
      break;
    case MemberEvent::Kind::kUnsuspected:
      e.text += " is no longer suspected";
      break;
    case MemberEvent::Kind::kDown:
      e.text += " is now down";
      break;
    case MemberEvent::Kind::kUp:
      e.text += std::string(" is up again as ") + MemberStateName(new_state);
      break;
    case MemberEvent::Kind::kRestarted:
      e.text += " restarted";
      break;
    case MemberEvent::Kind::kForgotten:
      e.text += " was forgotten";
      break;
  }
  if (!reason.empty()) e.text += " (" + reason + ")";
  if (options_.log) KV_LOG_NOTICE("%s", e.text.c_str());
  events_.push_back(std::move(e));
}

void Membership::AddReport(Peer* p, uint64_t from_id, int64_t now_ms) {
  p->reporters.emplace(from_id, now_ms);  // keeps the first report's time
  MaybeConfirm(p, now_ms);
}

// Down = suspected here (source one) and reported by another member at the
// heartbeat we hold (source two).
void Membership::MaybeConfirm(Peer* p, int64_t now_ms) {
  if (!p->suspected || p->down || p->reporters.empty() || p->digest.state == MemberState::kLeft) {
    return;
  }
  MemberState old_state = Effective(*p);
  p->down = true;
  const auto& [by, at] = *p->reporters.begin();
  std::string reason = "suspected here since " + std::to_string(now_ms - p->suspected_since_ms) +
                       " ms ago, no heartbeat for " + std::to_string(now_ms - p->last_advance_ms) +
                       " ms; confirmed by " + NodeIdHex(by) + " " + std::to_string(now_ms - at) +
                       " ms ago";
  if (p->reporters.size() > 1) {
    reason += " and " + std::to_string(p->reporters.size() - 1) + " other(s)";
  }
  Emit(MemberEvent::Kind::kDown, p->digest, old_state, MemberState::kDown, now_ms, reason);
}

// A digest with a higher heartbeat than ours that does not say kDown: the
// member was alive at that heartbeat, and everything it announces is newer.
void Membership::Advance(Peer* p, const MemberDigest& d, int64_t now_ms) {
  MemberState old_state = Effective(*p);
  uint64_t old_gen = HeartbeatGeneration(p->digest.heartbeat);
  bool was_heard = p->heard;
  int64_t silent = now_ms - p->last_advance_ms;
  p->digest.host = d.host;
  p->digest.port = d.port;
  p->digest.bus_port = d.bus_port;
  p->digest.zone = d.zone;
  p->digest.weight = d.weight;
  p->digest.heartbeat = d.heartbeat;
  p->digest.ring_epoch = d.ring_epoch;
  p->heard = true;
  p->last_advance_ms = now_ms;
  p->reporters.clear();
  bool was_suspected = p->suspected;
  bool was_down = p->down;
  p->suspected = false;
  p->down = false;
  MemberState old_life = p->digest.state;
  p->digest.state = d.state;
  if (was_heard && HeartbeatGeneration(d.heartbeat) != old_gen) {
    Emit(MemberEvent::Kind::kRestarted, p->digest, old_state, Effective(*p), now_ms,
         "heartbeat generation " + std::to_string(old_gen) + " -> " +
             std::to_string(HeartbeatGeneration(d.heartbeat)));
  }
  if (was_down) {
    Emit(MemberEvent::Kind::kUp, p->digest, old_state, Effective(*p), now_ms,
         "heartbeat advanced after " + std::to_string(silent) + " ms");
  } else if (was_suspected) {
    Emit(MemberEvent::Kind::kUnsuspected, p->digest, old_state, Effective(*p), now_ms,
         "heartbeat advanced after " + std::to_string(silent) + " ms");
  }
  if (old_life != d.state) {
    Emit(MemberEvent::Kind::kStateChanged, p->digest, was_down ? MemberState::kDown : old_life,
         Effective(*p), now_ms, "announced by the member");
  }
}

GossipRound Membership::Tick(int64_t now_ms) {
  self_.heartbeat++;
  for (auto& [id, p] : peers_) {
    if (p.digest.state == MemberState::kLeft) continue;
    if (!p.suspected && now_ms - p.last_advance_ms >= options_.node_timeout_ms) {
      p.suspected = true;
      p.suspected_since_ms = now_ms;
      Emit(MemberEvent::Kind::kSuspected, p.digest, Effective(p), Effective(p), now_ms,
           "no heartbeat advance for " + std::to_string(now_ms - p.last_advance_ms) + " ms");
    }
    MaybeConfirm(&p, now_ms);
  }
  for (auto it = banned_until_.begin(); it != banned_until_.end();) {
    it = it->second <= now_ms ? banned_until_.erase(it) : std::next(it);
  }

  GossipRound round;
  std::vector<const Peer*> live, down;
  for (const auto& [id, p] : peers_) {
    if (p.digest.state == MemberState::kLeft) continue;
    (p.down ? down : live).push_back(&p);
  }
  std::vector<const Peer*> chosen;
  // Partial Fisher-Yates: the first k of `live` become a uniform sample.
  size_t k = std::min(options_.fanout, live.size());
  for (size_t i = 0; i < k; i++) {
    size_t j = i + rng_->Uniform(live.size() - i);
    std::swap(live[i], live[j]);
    chosen.push_back(live[i]);
  }
  if (!down.empty() && rng_->Uniform(live.size() + 1) < down.size()) {
    chosen.push_back(down[rng_->Uniform(down.size())]);
  }
  for (const Peer* p : chosen) {
    GossipTarget t;
    t.node_id = p->digest.node_id;
    t.host = p->digest.host;
    t.bus_port = p->digest.bus_port;
    t.send_ring = self_.ring_epoch > 0 && (!p->heard || p->digest.ring_epoch < self_.ring_epoch);
    round.targets.push_back(std::move(t));
  }
  round.gossip = MakeGossip();
  return round;
}

Gossip Membership::MakeGossip() const {
  Gossip g;
  g.members.reserve(peers_.size() + 1);
  g.members.push_back(self_);
  for (const auto& [id, p] : peers_) {
    MemberDigest d = p.digest;
    if (d.state != MemberState::kLeft && (p.suspected || p.down)) d.state = MemberState::kDown;
    g.members.push_back(std::move(d));
  }
  return g;
}

GossipOutcome Membership::OnGossip(uint64_t from_id, const Gossip& gossip, int64_t now_ms) {
  GossipOutcome out;
  if (from_id == self_.node_id || from_id == 0 || IsBanned(from_id, now_ms)) {
    out.ignored = true;
    return out;
  }
  for (const MemberDigest& d : gossip.members) {
    if (!DigestAcceptable(d)) continue;
    if (d.node_id == self_.node_id) {
      if (d.heartbeat > self_.heartbeat) {
        KV_LOG_WARNING("%s: %s gossiped our heartbeat %" PRIu64 " > ours %" PRIu64
                       " (wall clock stepped back since an earlier run?); moving past it",
                       Describe(self_).c_str(), NodeIdHex(from_id).c_str(), d.heartbeat,
                       self_.heartbeat);
        self_.heartbeat = d.heartbeat + 1;
      }
      continue;
    }
    if (IsBanned(d.node_id, now_ms)) continue;
    // kDown about someone else is the sender's suspicion; about itself it
    // means nothing (a node never suspects itself).
    bool report = d.state == MemberState::kDown && d.node_id != from_id;
    auto it = peers_.find(d.node_id);
    if (it == peers_.end()) {
      Peer p;
      p.digest = d;
      if (!IsLifecycle(p.digest.state)) p.digest.state = MemberState::kNormal;
      p.heard = true;
      p.last_advance_ms = now_ms;
      auto [ins, ok] = peers_.emplace(d.node_id, std::move(p));
      Emit(MemberEvent::Kind::kAdded, ins->second.digest, ins->second.digest.state,
           ins->second.digest.state, now_ms, "gossip from " + NodeIdHex(from_id));
      if (report) AddReport(&ins->second, from_id, now_ms);
      continue;
    }
    Peer& p = it->second;
    if (p.digest.state == MemberState::kLeft) continue;  // final
    if (d.heartbeat > p.digest.heartbeat) {
      if (report) {
        // The sender holds a newer heartbeat than we do and already finds
        // it stale: adopt the number, not the liveness (our own timer keeps
        // running), and count the report.
        p.digest.heartbeat = d.heartbeat;
        p.reporters.clear();
        AddReport(&p, from_id, now_ms);
      } else {
        Advance(&p, d, now_ms);
      }
    } else if (d.heartbeat == p.digest.heartbeat && report) {
      AddReport(&p, from_id, now_ms);
    }
  }
  if (gossip.ring.has_value()) {
    ring::Ring r;
    Status s = ring::DecodeRing(*gossip.ring, &r);
    if (!s.ok()) {
      KV_LOG_WARNING("ignoring the ring gossiped by %s: %s", NodeIdHex(from_id).c_str(),
                     s.ToString().c_str());
    } else if (r.epoch() > self_.ring_epoch ||
               (r.epoch() == self_.ring_epoch && r.author() > ring_author_)) {
      out.newer_ring = std::move(r);
    }
  }
  return out;
}

Status Membership::Meet(uint64_t node_id, std::string_view host, uint16_t port, uint16_t bus_port,
                        int64_t now_ms) {
  if (node_id == 0 || node_id == self_.node_id) {
    return Status::InvalidArgument("cannot meet node id 0 or ourselves");
  }
  if (host.size() > kMaxHostLength) return Status::InvalidArgument("host too long");
  banned_until_.erase(node_id);
  auto it = peers_.find(node_id);
  if (it != peers_.end()) {
    it->second.digest.host.assign(host);
    it->second.digest.port = port;
    it->second.digest.bus_port = bus_port;
    return Status::OK();
  }
  Peer p;
  p.digest.node_id = node_id;
  p.digest.host.assign(host);
  p.digest.port = port;
  p.digest.bus_port = bus_port;
  p.digest.weight = 1;
  p.digest.state = MemberState::kJoining;
  p.last_advance_ms = now_ms;
  auto [ins, ok] = peers_.emplace(node_id, std::move(p));
  Emit(MemberEvent::Kind::kAdded, ins->second.digest, MemberState::kJoining, MemberState::kJoining,
       now_ms, "CLUSTER MEET");
  return Status::OK();
}

Status Membership::SetSelfState(MemberState state) {
  MemberState cur = self_.state;
  if (state == cur) return Status::OK();
  bool ok = false;
  switch (state) {
    case MemberState::kNormal:
      ok = cur == MemberState::kJoining || cur == MemberState::kLeaving;
      break;
    case MemberState::kLeaving:
      ok = cur == MemberState::kJoining || cur == MemberState::kNormal;
      break;
    case MemberState::kLeft:
      ok = true;
      break;
    case MemberState::kJoining:
    case MemberState::kDown:
      ok = false;
      break;
  }
  if (!ok) {
    return Status::InvalidArgument(std::string("cannot go from ") + MemberStateName(cur) + " to " +
                                   MemberStateName(state));
  }
  self_.state = state;
  self_.heartbeat++;
  Emit(MemberEvent::Kind::kStateChanged, self_, cur, state, 0, "this node");
  return Status::OK();
}

Status Membership::Forget(uint64_t node_id, int64_t now_ms) {
  if (node_id == self_.node_id) return Status::InvalidArgument("cannot forget ourselves");
  auto it = peers_.find(node_id);
  if (it == peers_.end()) return Status::NotFound("unknown node " + NodeIdHex(node_id));
  MemberDigest d = it->second.digest;
  MemberState old_state = Effective(it->second);
  peers_.erase(it);
  banned_until_[node_id] = now_ms + options_.forget_ban_ms;
  Emit(MemberEvent::Kind::kForgotten, d, old_state, old_state, now_ms,
       "gossip about it ignored for " + std::to_string(options_.forget_ban_ms) + " ms");
  return Status::OK();
}

void Membership::SetRingEpoch(uint64_t epoch, uint64_t author) {
  self_.ring_epoch = epoch;
  ring_author_ = author;
}

std::vector<MemberInfo> Membership::Members(int64_t now_ms) const {
  std::vector<MemberInfo> out;
  out.reserve(peers_.size() + 1);
  auto fill = [](const MemberDigest& d, MemberInfo* m) {
    m->node_id = d.node_id;
    m->host = d.host;
    m->port = d.port;
    m->bus_port = d.bus_port;
    m->zone = d.zone;
    m->weight = d.weight;
    m->lifecycle = d.state;
    m->state = d.state;
    m->heartbeat = d.heartbeat;
    m->ring_epoch = d.ring_epoch;
  };
  MemberInfo self;
  fill(self_, &self);
  self.is_self = true;
  out.push_back(std::move(self));
  for (const auto& [id, p] : peers_) {
    MemberInfo m;
    fill(p.digest, &m);
    m.state = Effective(p);
    m.ms_since_heartbeat = now_ms - p.last_advance_ms;
    m.suspected = p.suspected;
    m.reporters = p.reporters.size();
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<uint64_t> Membership::LiveMembers() const {
  std::vector<uint64_t> out;
  if (self_.state != MemberState::kLeft) out.push_back(self_.node_id);
  for (const auto& [id, p] : peers_) {
    MemberState s = Effective(p);
    if (s != MemberState::kDown && s != MemberState::kLeft) out.push_back(id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool Membership::IsUp(uint64_t node_id) const {
  if (node_id == self_.node_id) return self_.state != MemberState::kLeft;
  auto it = peers_.find(node_id);
  if (it == peers_.end()) return false;
  MemberState s = Effective(it->second);
  return s != MemberState::kDown && s != MemberState::kLeft;
}

bool Membership::IsKnown(uint64_t node_id) const {
  return node_id == self_.node_id || peers_.count(node_id) != 0;
}

bool Membership::IsBanned(uint64_t node_id, int64_t now_ms) const {
  auto it = banned_until_.find(node_id);
  return it != banned_until_.end() && it->second > now_ms;
}

std::vector<MemberEvent> Membership::TakeEvents() { return std::exchange(events_, {}); }

PersistedMembership Membership::ToPersisted() const {
  PersistedMembership p;
  p.self_id = self_.node_id;
  p.members.push_back(self_);
  for (const auto& [id, peer] : peers_) p.members.push_back(peer.digest);
  for (MemberDigest& m : p.members) m.ring_epoch = 0;
  return p;
}

}  // namespace kv::cluster
