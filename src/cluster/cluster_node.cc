#include "cluster/cluster_node.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "cluster/state_file.h"
#include "ring/claim.h"
#include "ring/partition.h"
#include "util/clock.h"
#include "util/crc16.h"

namespace kv::cluster {

namespace {
int64_t MonotonicMs() { return util::MonotonicUs() / 1000; }
}  // namespace

ClusterNode::ClusterNode(NodeOptions options)
    : options_(std::move(options)), rng_(util::OsRandom64()) {}

ClusterNode::~ClusterNode() { Close(); }

void ClusterNode::Log(const std::string& line) const {
  if (options_.log) options_.log(line);
}

util::Status ClusterNode::Open(NodeOptions options, std::unique_ptr<ClusterNode>* out) {
  std::unique_ptr<ClusterNode> node(new ClusterNode(std::move(options)));
  const NodeOptions& o = node->options_;
  Membership::Options mo;
  mo.node_timeout_ms = o.node_timeout_ms;
  ClusterStateData state;
  util::Status s = LoadState(o.dir, &state);
  if (!s.ok() && !s.IsNotFound()) return s;
  const bool ours = s.ok() && state.ring.FindMember(o.node_id) != nullptr;
  if (ours) {
    node->ring_ = std::move(state.ring);
    node->loaded_target_ = std::move(state.rebalance_target);
  } else {
    if (s.ok()) {
      node->Log("cluster.state names a ring without this node (id " + NodeIdText(o.node_id) +
                "); starting over as a cluster of one");
    }
    if (!ring::IsValidPartitionCount(o.partitions)) {
      return util::Status::InvalidArgument(
          "cluster-partitions must be a power of two from 1 to 16384, not " +
          std::to_string(o.partitions));
    }
    s = ring::NewRing(o.partitions, {ring::Member{o.node_id, o.zone, o.weight}}, o.node_id,
                      ring::ClaimOptions{}, &node->ring_);
    if (!s.ok()) return s;
  }
  PersistedMembership pm;
  if (ours && !state.members.empty() && DecodeMembership(state.members, &pm).ok() &&
      pm.self_id == o.node_id) {
    // The address may have changed with the config: ours is what we say.
    for (MemberDigest& d : pm.members) {
      if (d.node_id == o.node_id) {
        d.host = o.host;
        d.port = o.port;
        d.bus_port = o.bus_port;
        d.zone = o.zone;
        d.weight = o.weight;
      }
    }
    node->membership_ = Membership::Restore(mo, pm, util::WallMs(), MonotonicMs(), &node->rng_);
  }
  if (!node->membership_) {
    MemberDigest self;
    self.node_id = o.node_id;
    self.host = o.host;
    self.port = o.port;
    self.bus_port = o.bus_port;
    self.zone = o.zone;
    self.weight = o.weight;
    self.heartbeat = InitialHeartbeat(util::WallMs(), 0);
    self.state = MemberState::kNormal;
    node->membership_ = std::make_unique<Membership>(mo, self, &node->rng_);
  }
  node->membership_->SetRingEpoch(node->ring_.epoch(), node->ring_.author());
  node->membership_->TakeEvents();
  s = node->SaveNow();
  if (!s.ok()) return s;
  *out = std::move(node);
  return util::Status::OK();
}

std::string ClusterNode::EncodedState() const {
  ClusterStateData state;
  state.ring = ring_;
  if (transfers_ && transfers_->running()) state.rebalance_target = transfers_->target();
  if (membership_) EncodeMembership(membership_->ToPersisted(), &state.members);
  std::string bytes;
  EncodeState(state, &bytes);
  return bytes;
}

util::Status ClusterNode::SaveNow() {
  return WriteStateFile(options_.dir, EncodedState(), ++save_generation_);
}

void ClusterNode::SaveSoon() {
  if (loop_ == nullptr) {
    util::Status s = SaveNow();
    if (!s.ok()) Log("can't save cluster.state: " + s.ToString());
    return;
  }
  if (save_in_flight_) {
    save_again_ = true;
    return;
  }
  auto* job = new SaveJob{{}, this, options_.dir, EncodedState(), ++save_generation_, {}};
  job->req.data = job;
  save_in_flight_ = true;
  int rc = uv_queue_work(
      loop_, &job->req,
      [](uv_work_t* req) {
        auto* j = static_cast<SaveJob*>(req->data);
        j->status = WriteStateFile(j->dir, j->bytes, j->generation);
      },
      [](uv_work_t* req, int) {
        std::unique_ptr<SaveJob> j(static_cast<SaveJob*>(req->data));
        ClusterNode* node = j->node;
        node->save_in_flight_ = false;
        if (!j->status.ok()) node->Log("can't save cluster.state: " + j->status.ToString());
        if (node->save_again_ && node->bus_) {
          node->save_again_ = false;
          node->SaveSoon();
        }
      });
  if (rc != 0) {
    delete job;
    save_in_flight_ = false;
    util::Status s = SaveNow();
    if (!s.ok()) Log("can't save cluster.state: " + s.ToString());
  }
}

util::Status ClusterNode::Start(uv_loop_t* loop, ForwardHandler on_forward, PartitionStore* store) {
  loop_ = loop;
  on_forward_ = std::move(on_forward);
  transfers_ = std::make_unique<Transfers>(this, store, options_.transfer);
  BusOptions bo;
  bo.self.node_id = options_.node_id;
  bo.self.cluster_name = options_.cluster_name;
  bo.self.host = options_.host;
  bo.self.port = options_.port;
  bo.self.bus_port = options_.bus_port;
  bo.self.secret = options_.secret;
  bo.bind = options_.bind;
  bo.log = options_.log;
  bus_ = std::make_unique<Bus>(loop, bo,
                               [this](uint64_t peer, const FrameView& frame, Bus::Responder reply) {
                                 OnFrame(peer, frame, std::move(reply));
                               });
  util::Status s = bus_->Start();
  if (!s.ok()) return s;
  SyncBusPeers();
  gossip_timer_ = std::make_unique<net::Timer>(loop, [this] { GossipTick(); });
  const uint64_t every = static_cast<uint64_t>(options_.gossip_interval_ms);
  gossip_timer_->Start(every, every);
  if (loaded_target_.partitions() > 0 && loaded_target_.partitions() == ring_.partitions()) {
    Log("going on with the rebalance toward ring epoch " + std::to_string(loaded_target_.epoch()));
    transfers_->Resume(loaded_target_);
  }
  loaded_target_ = ring::Ring();
  return util::Status::OK();
}

void ClusterNode::Close() {
  if (gossip_timer_) gossip_timer_->Stop();
  gossip_timer_.reset();
  if (bus_) {
    // The newest state, now: a write still on a worker is older and will
    // not overwrite it (generations).
    util::Status s = SaveNow();
    if (!s.ok()) Log("can't save cluster.state: " + s.ToString());
    bus_->Close();
    bus_.reset();
  }
}

// Every member the membership knows, except self and the left, gets an
// outbound link.
void ClusterNode::SyncBusPeers() {
  if (!bus_) return;
  for (const MemberInfo& m : membership_->Members(MonotonicMs())) {
    if (m.is_self || m.state == MemberState::kLeft || m.bus_port == 0) continue;
    bus_->AddPeer(m.node_id, m.host, m.bus_port);
  }
}

void ClusterNode::GossipTick() {
  GossipRound round = membership_->Tick(MonotonicMs());
  std::string plain, with_ring;
  round.gossip.EncodeTo(&plain);
  for (const GossipTarget& t : round.targets) {
    if (t.send_ring) {
      if (with_ring.empty()) {
        Gossip g = round.gossip;
        std::string ring_bytes;
        ring::EncodeRing(ring_, &ring_bytes);
        g.ring = std::move(ring_bytes);
        g.EncodeTo(&with_ring);
      }
      bus_->Send(t.node_id, FrameType::kGossip, with_ring);
    } else {
      bus_->Send(t.node_id, FrameType::kGossip, plain);
    }
  }
  HandleEvents();
  if (transfers_) transfers_->Tick();
  MaybeRebalanceJoined();
  if (ring_.FindMember(id()) == nullptr && membership_->self().state == MemberState::kLeaving &&
      RingAgreed()) {
    // The end of CLUSTER LEAVE: every partition was handed over and every
    // member has the ring without us (members ignore a left node's gossip,
    // so this waits until they have it).
    util::Status s = membership_->SetSelfState(MemberState::kLeft);
    if (!s.ok()) Log("can't mark this node left: " + s.ToString());
    Log("left the cluster: this node owns nothing now and deletes its data; it can be stopped");
    HandleEvents();
  }
}

void ClusterNode::RebalanceWhenJoined() { join_deadline_ms_ = MonotonicMs() + 60000; }

void ClusterNode::MaybeRebalanceJoined() {
  if (join_deadline_ms_ == 0 || !transfers_) return;
  if (MonotonicMs() > join_deadline_ms_) {
    join_deadline_ms_ = 0;
    Log("JOIN: no cluster ring arrived within a minute; run CLUSTER REBALANCE when it has");
    return;
  }
  if (ring_.FindMember(id()) == nullptr || ring_.members().size() < 2 || !RingAgreed() ||
      transfers_->running()) {
    return;
  }
  join_deadline_ms_ = 0;
  ring::Ring target;
  util::Status s = PlanRing(&target);
  if (s.ok()) s = transfers_->Start(target);
  if (!s.ok()) Log("JOIN: can't rebalance: " + s.ToString());
}

bool ClusterNode::RingAgreed() const {
  std::vector<MemberInfo> members = membership_->Members(MonotonicMs());
  for (const ring::Member& r : ring_.members()) {
    if (r.id == id()) continue;
    auto m = std::find_if(members.begin(), members.end(),
                          [&r](const MemberInfo& i) { return i.node_id == r.id; });
    if (m == members.end() || m->state == MemberState::kDown || m->suspected ||
        m->ring_epoch != ring_.epoch()) {
      return false;
    }
  }
  return true;
}

void ClusterNode::HandleEvents() {
  bool save = false, peers = false;
  for (const MemberEvent& e : membership_->TakeEvents()) {
    switch (e.kind) {
      case MemberEvent::Kind::kSuspected:
      case MemberEvent::Kind::kUnsuspected:
        break;
      case MemberEvent::Kind::kAdded:
        peers = true;
        save = true;
        break;
      case MemberEvent::Kind::kForgotten:
        if (bus_) bus_->RemovePeer(e.node_id);
        save = true;
        break;
      default:
        save = true;
    }
  }
  if (peers) SyncBusPeers();
  if (save) SaveSoon();
}

void ClusterNode::OnFrame(uint64_t peer, const FrameView& frame, Bus::Responder reply) {
  switch (static_cast<FrameType>(frame.type)) {
    case FrameType::kGossip: {
      Gossip g;
      util::Status s = g.Decode(frame.payload);
      if (!s.ok()) {
        Log("bad GOSSIP from " + NodeIdText(peer) + ": " + s.ToString());
        break;
      }
      GossipOutcome out = membership_->OnGossip(peer, g, MonotonicMs());
      if (out.newer_ring) {
        // A ring that names us is ours. One that does not is taken only by
        // a node still on its own one-node ring joining a real cluster
        // (it then owns nothing and forwards every key until a rebalance
        // gives it partitions); another node's one-node ring, or a ring
        // that removed us, must never take our partitions.
        const bool names_us = out.newer_ring->FindMember(id()) != nullptr;
        const bool alone = ring_.members().size() == 1 && ring_.members()[0].id == id();
        if (names_us || (alone && out.newer_ring->members().size() > 1)) {
          InstallRing(*out.newer_ring);
        }
      }
      HandleEvents();
      break;
    }
    case FrameType::kForward: {
      if (!reply) break;
      cluster::Forward f;
      util::Status s = f.Decode(frame.payload);
      if (!s.ok() || f.argv.empty()) {
        Bus::ReplyError(reply, ErrorCode::kMalformed, s.ok() ? "empty command" : s.message());
        break;
      }
      if (!on_forward_) {
        Bus::ReplyError(reply, ErrorCode::kNotReady, "not serving forwarded commands");
        break;
      }
      on_forward_(f, [reply](std::string resp) {
        ForwardReply r;
        r.resp = std::move(resp);
        std::string payload;
        r.EncodeTo(&payload);
        reply(FrameType::kForwardReply, payload);
      });
      break;
    }
    case FrameType::kTransferStep:
    case FrameType::kTransferRead:
    case FrameType::kTransferCommit:
      if (transfers_) {
        transfers_->OnFrame(peer, frame, std::move(reply));
      } else if (reply) {
        Bus::ReplyError(reply, ErrorCode::kNotReady, "not serving transfers yet");
      }
      break;
    default:
      if (reply) Bus::ReplyError(reply, ErrorCode::kUnknownType, "not served by this node");
  }
}

std::vector<MemberInfo> ClusterNode::Members() const { return membership_->Members(MonotonicMs()); }

bool ClusterNode::IsUp(uint64_t node) const { return membership_->IsUp(node); }

BusStats ClusterNode::bus_stats() const { return bus_ ? bus_->stats() : BusStats{}; }

void ClusterNode::Handshake(const std::string& host, uint16_t bus_port,
                            std::function<void(util::Status, uint64_t peer)> done) {
  if (!bus_) {
    done(util::Status::Busy("the cluster bus is not running"), 0);
    return;
  }
  bus_->Meet(host, bus_port, [this, host, bus_port, done](util::Result<uint64_t> peer) {
    if (!peer.ok()) {
      done(peer.status(), 0);
      return;
    }
    // Its client port is in its handshake (and comes with its gossip).
    util::Status s = membership_->Meet(peer.value(), host, bus_->PeerClientPort(peer.value()),
                                       bus_port, MonotonicMs());
    HandleEvents();
    done(s, peer.value());
  });
}

void ClusterNode::Meet(const std::string& host, uint16_t bus_port,
                       std::function<void(util::Status)> done) {
  Handshake(host, bus_port, [this, done](util::Status s, uint64_t peer) {
    if (s.ok() && ring_.FindMember(peer) == nullptr) {
      // The met node joins our ring owning nothing (a rebalance gives it
      // its share): it adopts this ring at once and forwards every key
      // here, instead of taking writes on its own one-node ring that the
      // rebalance would then discard. Its zone and weight come with its
      // gossip; the claim reads them from the membership.
      std::vector<ring::Member> members = ring_.members();
      members.push_back(ring::Member{peer, "", 1});
      ring::Ring next;
      util::Status rs = ring::Ring::Build(NextEpoch(), id(), members, ring_.Owners(), &next);
      if (rs.ok()) {
        InstallRing(next);
      } else {
        Log("can't add the met node to the ring: " + rs.ToString());
      }
    }
    done(s);
  });
}

void ClusterNode::Join(const std::string& host, uint16_t bus_port,
                       std::function<void(util::Status)> done) {
  Handshake(host, bus_port, [this, done](util::Status s, uint64_t peer) {
    if (!s.ok()) {
      done(s);
      return;
    }
    Forward(peer,
            {"CLUSTER", "MEET", options_.host, std::to_string(options_.port),
             std::to_string(options_.bus_port)},
            kForwardLocal, [this, done](util::Status fs, std::string reply) {
              if (fs.ok() && reply.rfind("+OK", 0) != 0) {
                fs = util::Status::IOError("it answered " + reply.substr(0, 120));
              }
              if (fs.ok()) RebalanceWhenJoined();
              done(fs);
            });
  });
}

util::Status ClusterNode::Forget(uint64_t node) {
  if (ring_.FindMember(node) != nullptr) {
    if (!ring_.PartitionsOf(node).empty()) {
      return util::Status::InvalidArgument("can't forget a node that still owns partitions");
    }
    // A member that owns nothing (met, never given partitions) leaves the
    // ring with a new epoch.
    std::vector<ring::Member> members;
    for (const ring::Member& m : ring_.members()) {
      if (m.id != node) members.push_back(m);
    }
    ring::Ring next;
    util::Status rs = ring::Ring::Build(NextEpoch(), id(), members, ring_.Owners(), &next);
    if (!rs.ok()) return rs;
    InstallRing(next);
  }
  util::Status s = membership_->Forget(node, MonotonicMs());
  HandleEvents();
  return s;
}

void ClusterNode::Forward(uint64_t owner, std::vector<std::string> argv, uint32_t flags,
                          std::function<void(util::Status, std::string)> done) {
  if (!bus_) {
    done(util::Status::Busy("the cluster bus is not running"), "");
    return;
  }
  cluster::Forward f;
  f.flags = flags;
  f.argv = std::move(argv);
  f.ring_epoch = ring_.epoch();
  std::string payload;
  f.EncodeTo(&payload);
  bus_->Request(owner, FrameType::kForward, payload, options_.request_timeout_ms,
                [done](util::Status s, const FrameView* response) {
                  if (!s.ok()) {
                    done(s, "");
                    return;
                  }
                  if (response->type == static_cast<uint8_t>(FrameType::kError)) {
                    ErrorMsg e;
                    util::Status es = Bus::DecodeError(*response, &e);
                    done(util::Status::IOError(es.ok() ? e.message : es.message()), "");
                    return;
                  }
                  ForwardReply r;
                  util::Status ds = r.Decode(response->payload);
                  if (!ds.ok()) {
                    done(ds, "");
                    return;
                  }
                  done(util::Status::OK(), std::move(r.resp));
                });
}

util::Status ClusterNode::PlanRing(ring::Ring* out, uint64_t without) const {
  std::vector<ring::Member> members;
  for (const MemberInfo& m : membership_->Members(MonotonicMs())) {
    if (m.state == MemberState::kDown || m.state == MemberState::kLeft ||
        m.state == MemberState::kLeaving || m.node_id == without) {
      continue;
    }
    if (!m.is_self && m.suspected) continue;
    members.push_back(ring::Member{m.node_id, m.zone, m.weight == 0 ? 1 : m.weight});
  }
  const uint64_t epoch = NextEpoch() - 1;
  ring::Ring base = ring_;
  // Claim takes the next epoch after its base; start from the highest
  // epoch any member announced so the new ring outranks every one of them.
  if (epoch > ring_.epoch()) {
    util::Status s =
        ring::Ring::Build(epoch, ring_.author(), ring_.members(), ring_.Owners(), &base);
    if (!s.ok()) return s;
  }
  return ring::Claim(base, std::move(members), id(), ring::ClaimOptions{}, out);
}

util::Status ClusterNode::Leave(size_t* moves) {
  if (!transfers_) return util::Status::Busy("the cluster bus is not running");
  if (transfers_->running()) {
    return util::Status::Busy("a rebalance is running here (CLUSTER REBALANCE STATUS)");
  }
  if (ring_.FindMember(id()) == nullptr) {
    return util::Status::InvalidArgument("this node is not a member of the ring");
  }
  ring::Ring target;
  util::Status s = PlanRing(&target, id());
  if (!s.ok()) {
    return util::Status::InvalidArgument("no other node can take the partitions: " + s.message());
  }
  s = membership_->SetSelfState(MemberState::kLeaving);
  if (!s.ok()) return s;
  *moves = ring::Moves(ring_, target).size();
  s = transfers_->Start(target);
  if (!s.ok()) {
    (void)membership_->SetSelfState(MemberState::kNormal);
    HandleEvents();
    return s;
  }
  Log("leaving the cluster: " + std::to_string(*moves) + " partitions to hand over");
  HandleEvents();
  return util::Status::OK();
}

uint64_t ClusterNode::NextEpoch() const {
  uint64_t epoch = ring_.epoch();
  for (const MemberInfo& m : membership_->Members(MonotonicMs())) {
    epoch = std::max(epoch, m.ring_epoch);
  }
  return epoch + 1;
}

void ClusterNode::Request(uint64_t peer, FrameType type, std::string_view payload,
                          Bus::RequestCallback done) {
  if (!bus_) {
    done(util::Status::IOError("the cluster bus is not running"), nullptr);
    return;
  }
  bus_->Request(peer, type, payload, options_.request_timeout_ms, std::move(done));
}

void ClusterNode::InstallRing(const ring::Ring& ring) {
  ring_ = ring;
  SaveSoon();
  membership_->SetRingEpoch(ring_.epoch(), ring_.author());
  if (transfers_) transfers_->OnRingInstalled();
  Log("installed ring epoch " + std::to_string(ring_.epoch()) + " by " +
      NodeIdText(ring_.author()) + ": " + std::to_string(ring_.members().size()) + " members, " +
      std::to_string(ring_.PartitionsOf(id()).size()) + " of " +
      std::to_string(ring_.partitions()) + " partitions here");
}

uint32_t ClusterNode::PartitionOfSlot(uint32_t slot) const {
  return ring::PartitionOfSlot(slot, ring_.partitions());
}

uint64_t ClusterNode::OwnerOfSlot(uint32_t slot) const {
  return ring_.Owner(PartitionOfSlot(slot));
}

std::vector<OwnedSlots> ClusterNode::SlotRuns() const {
  std::vector<OwnedSlots> runs;
  const uint32_t q = ring_.partitions();
  for (uint32_t p = 0; p < q; p++) {
    ring::SlotRange r = ring::SlotsOfPartition(p, q);
    uint64_t owner = ring_.Owner(p);
    if (!runs.empty() && runs.back().owner == owner && runs.back().last + 1 == r.begin) {
      runs.back().last = r.end - 1;
    } else {
      runs.push_back(OwnedSlots{r.begin, r.end - 1, owner});
    }
  }
  return runs;
}

}  // namespace kv::cluster
