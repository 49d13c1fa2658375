// Membership and failure detection (cluster/membership.h), driven by a small
// deterministic simulator: N Membership instances exchange encoded GOSSIP
// payloads through a seeded message queue with drops, delays (so reorders),
// duplicates, one-way link cuts, crashes and restarts, on a simulated clock.
// Every randomised test prints its seed; replay with KV_TEST_SEED=<seed>.
// Also: the ban after Forget, final kLeft, ring reporting, and the
// membership file's layout and refusal of every damaged byte.
#include "cluster/membership.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <set>
#include <string>
#include <vector>

#include "../test_util.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/random.h"

namespace kv::cluster {
namespace {

using test::Hex;

using Kind = MemberEvent::Kind;

// A wall clock far from 0, so heartbeat generations look like real ones.
constexpr int64_t kWallBase = 1'700'000'000'000;

struct SimConfig {
  int64_t interval_ms = 100;  // one Tick per node per interval
  int64_t min_delay_ms = 1;
  int64_t max_delay_ms = 40;
  double drop = 0;  // probability a message is lost
  double dup = 0;   // probability a delivered message is delivered twice
  Membership::Options options = [] {
    Membership::Options o;
    o.node_timeout_ms = 2000;  // 20 intervals
    o.fanout = 2;
    o.forget_ban_ms = 6000;
    o.log = false;
    return o;
  }();
};

// Deterministic network of Membership instances. Time advances in rounds of
// one interval; within a round every running node ticks once at its own
// fixed offset and messages are delivered at send time + delay, in time
// order (ties by send order).
class Sim {
 public:
  struct Node {
    uint64_t id = 0;
    std::unique_ptr<util::Random> rng;
    std::unique_ptr<Membership> m;
    bool crashed = false;
    int64_t offset_ms = 0;
    std::string saved;  // last persisted membership file
    std::vector<MemberEvent> events;
  };

  Sim(uint64_t seed, size_t n, SimConfig config = {}) : config_(config), rng_(seed) {
    std::set<uint64_t> ids;
    for (size_t i = 0; i < n; i++) {
      auto node = std::make_unique<Node>();
      do {
        node->id = rng_.Next();
      } while (node->id == 0 || !ids.insert(node->id).second);
      node->rng = std::make_unique<util::Random>(rng_.Next());
      node->offset_ms = static_cast<int64_t>(rng_.Uniform(config_.interval_ms));
      MemberDigest self;
      self.node_id = node->id;
      self.host = "127.0.0.1";
      self.port = static_cast<uint16_t>(7000 + i);
      self.bus_port = static_cast<uint16_t>(17000 + i);
      self.zone = "z" + std::to_string(i % 3);
      self.weight = 1;
      self.heartbeat = InitialHeartbeat(kWallBase, 0);
      node->m = std::make_unique<Membership>(config_.options, self, node->rng.get());
      nodes_.push_back(std::move(node));
    }
    blocked_.assign(n, std::vector<bool>(n, false));
  }

  size_t size() const { return nodes_.size(); }
  Node& node(size_t i) { return *nodes_[i]; }
  Membership& m(size_t i) { return *nodes_[i]->m; }
  uint64_t id(size_t i) const { return nodes_[i]->id; }
  int64_t now() const { return now_; }
  int64_t rounds() const { return round_; }
  SimConfig& config() { return config_; }

  // Every node but the seed meets node `seed`; all start joining.
  void MeetThrough(size_t seed) {
    for (size_t i = 0; i < size(); i++) {
      if (i == seed) continue;
      const MemberDigest& s = m(seed).self();
      REQUIRE(m(i).Meet(s.node_id, s.host, s.port, s.bus_port, now_).ok());
    }
  }
  void SetAllNormal() {
    for (size_t i = 0; i < size(); i++) REQUIRE(m(i).SetSelfState(MemberState::kNormal).ok());
  }

  // Cuts (or restores) the link from -> to, one way.
  void Block(size_t from, size_t to, bool blocked = true) { blocked_[from][to] = blocked; }
  // Cuts every link between `group` and the rest, both ways.
  void Partition(const std::set<size_t>& group) {
    for (size_t a = 0; a < size(); a++) {
      for (size_t b = 0; b < size(); b++) {
        if (group.count(a) != group.count(b)) blocked_[a][b] = true;
      }
    }
  }
  void Heal() {
    for (auto& row : blocked_) std::fill(row.begin(), row.end(), false);
  }

  void Persist(size_t i) {
    node(i).saved.clear();
    EncodeMembership(m(i).ToPersisted(), &node(i).saved);
  }
  // Stops ticking and receiving; keeps its last persisted file.
  void Crash(size_t i) { node(i).crashed = true; }
  // Boots from the persisted file at the current simulated wall clock.
  void Restart(size_t i) {
    PersistedMembership p;
    util::Status s = DecodeMembership(node(i).saved, &p);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    node(i).m = Membership::Restore(config_.options, p, kWallBase + now_, now_, node(i).rng.get());
    node(i).crashed = false;
  }

  void RunRound() {
    int64_t start = round_ * config_.interval_ms;
    int64_t end = start + config_.interval_ms;
    std::vector<size_t> order(size());
    for (size_t i = 0; i < size(); i++) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return node(a).offset_ms < node(b).offset_ms; });
    size_t next_tick = 0;
    while (true) {
      int64_t tick_at = next_tick < order.size() ? start + node(order[next_tick]).offset_ms : end;
      int64_t msg_at = queue_.empty() ? end : queue_.top().at;
      if (tick_at >= end && msg_at >= end) break;
      if (tick_at <= msg_at) {
        now_ = tick_at;
        Tick(order[next_tick++]);
      } else {
        Msg msg = queue_.top();
        queue_.pop();
        now_ = msg.at;
        Deliver(msg);
      }
    }
    now_ = end;
    round_++;
    // Persist every 50 rounds, as a server would on membership changes.
    if (round_ % 50 == 0) {
      for (size_t i = 0; i < size(); i++) {
        if (!node(i).crashed) Persist(i);
      }
    }
  }

  // Runs until pred() holds after a round; returns the rounds it took, or
  // -1 if it did not within max_rounds.
  int RunUntil(const std::function<bool()>& pred, int max_rounds) {
    for (int r = 1; r <= max_rounds; r++) {
      RunRound();
      if (pred()) return r;
    }
    return -1;
  }
  void Run(int rounds) {
    for (int r = 0; r < rounds; r++) RunRound();
  }

  // Effective state of j as node i sees it (kJoining if unknown, with *known false).
  MemberState StateAt(size_t i, size_t j, bool* known = nullptr) {
    for (const MemberInfo& mi : m(i).Members(now_)) {
      if (mi.node_id == id(j)) {
        if (known != nullptr) *known = true;
        return mi.state;
      }
    }
    if (known != nullptr) *known = false;
    return MemberState::kJoining;
  }
  MemberInfo InfoAt(size_t i, size_t j) {
    for (const MemberInfo& mi : m(i).Members(now_)) {
      if (mi.node_id == id(j)) return mi;
    }
    FAIL("node " << j << " unknown at node " << i);
    return {};
  }
  // Every running node sees every other running node as `state`.
  bool AllRunningSee(MemberState state) {
    for (size_t i = 0; i < size(); i++) {
      if (node(i).crashed) continue;
      for (size_t j = 0; j < size(); j++) {
        if (j == i || node(j).crashed) continue;
        bool known = false;
        if (StateAt(i, j, &known) != state || !known) return false;
      }
    }
    return true;
  }
  // Every running node other than x sees x as `state`.
  bool AllSee(size_t x, MemberState state) {
    for (size_t i = 0; i < size(); i++) {
      if (i == x || node(i).crashed) continue;
      if (StateAt(i, x) != state) return false;
    }
    return true;
  }
  // Events of node i (collected every round) about node j of kind k.
  int CountEvents(size_t i, size_t j, Kind k) {
    int n = 0;
    for (const MemberEvent& e : node(i).events) n += e.node_id == id(j) && e.kind == k;
    return n;
  }
  // Down events anywhere, over the whole run.
  int TotalDownEvents() {
    int n = 0;
    for (size_t i = 0; i < size(); i++) {
      for (const MemberEvent& e : node(i).events) n += e.kind == Kind::kDown;
    }
    return n;
  }

 private:
  struct Msg {
    int64_t at = 0;
    uint64_t seq = 0;
    size_t from = 0, to = 0;
    std::string bytes;
  };
  struct Later {
    bool operator()(const Msg& a, const Msg& b) const {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };

  bool Chance(double p) { return p > 0 && rng_.Uniform(1'000'000) < p * 1'000'000; }
  size_t IndexOf(uint64_t node_id) const {
    for (size_t i = 0; i < nodes_.size(); i++) {
      if (nodes_[i]->id == node_id) return i;
    }
    return nodes_.size();
  }

  void Tick(size_t i) {
    Node& n = node(i);
    if (n.crashed) return;
    GossipRound round = n.m->Tick(now_);
    Collect(i);
    std::string bytes;
    round.gossip.EncodeTo(&bytes);
    for (const GossipTarget& t : round.targets) {
      size_t to = IndexOf(t.node_id);
      REQUIRE(to < size());
      CHECK(t.node_id != n.id);
      if (blocked_[i][to] || Chance(config_.drop)) continue;
      int64_t delay = config_.min_delay_ms +
                      static_cast<int64_t>(rng_.Uniform(
                          static_cast<uint64_t>(config_.max_delay_ms - config_.min_delay_ms + 1)));
      int copies = Chance(config_.dup) ? 2 : 1;
      for (int c = 0; c < copies; c++) {
        queue_.push(Msg{now_ + delay + c, seq_++, i, to, bytes});
      }
    }
  }

  void Deliver(const Msg& msg) {
    Node& n = node(msg.to);
    if (n.crashed || blocked_[msg.from][msg.to]) return;
    Gossip g;
    util::Status s = g.Decode(msg.bytes);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    GossipOutcome out = n.m->OnGossip(id(msg.from), g, now_);
    CHECK(!out.newer_ring.has_value());
    Collect(msg.to);
  }

  void Collect(size_t i) {
    for (MemberEvent& e : node(i).m->TakeEvents()) node(i).events.push_back(std::move(e));
  }

  SimConfig config_;
  util::Random rng_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::vector<bool>> blocked_;
  std::priority_queue<Msg, std::vector<Msg>, Later> queue_;
  uint64_t seq_ = 0;
  int64_t now_ = 0;
  int64_t round_ = 0;
};

// Rounds of silence before a node is suspected.
int TimeoutRounds(const SimConfig& c) {
  return static_cast<int>(c.options.node_timeout_ms / c.interval_ms);
}

// Every down event at node i was preceded by its own suspicion of the same
// node: the second source never replaces the first.
void CheckDownFollowsSuspicion(Sim& sim) {
  for (size_t i = 0; i < sim.size(); i++) {
    std::map<uint64_t, bool> suspected;
    for (const MemberEvent& e : sim.node(i).events) {
      if (e.kind == Kind::kSuspected) suspected[e.node_id] = true;
      if (e.kind == Kind::kUnsuspected || e.kind == Kind::kUp) suspected[e.node_id] = false;
      if (e.kind == Kind::kDown) CHECK_MESSAGE(suspected[e.node_id], e.text);
    }
  }
}

TEST_CASE("five nodes meeting through one seed converge to all normal") {
  uint64_t seed = test::TestSeed(0x5eed0001);
  for (int run = 0; run < 20; run++) {
    Sim sim(seed + run, 5);
    sim.MeetThrough(0);
    sim.SetAllNormal();
    int rounds = sim.RunUntil([&] { return sim.AllRunningSee(MemberState::kNormal); }, 30);
    INFO("seed " << seed + run);
    REQUIRE(rounds > 0);
    CHECK(rounds <= 10);
    if (run == 0) MESSAGE("converged in " << rounds << " rounds");
    // And stays converged with nobody suspected.
    sim.Run(100);
    CHECK(sim.AllRunningSee(MemberState::kNormal));
    CHECK(sim.TotalDownEvents() == 0);
  }
}

TEST_CASE("a crashed node is marked down by every other node, each after its own suspicion") {
  uint64_t seed = test::TestSeed(0x5eed0002);
  int worst = 0;
  for (int run = 0; run < 20; run++) {
    INFO("seed " << seed + run);
    Sim sim(seed + run, 5);
    sim.MeetThrough(0);
    sim.SetAllNormal();
    REQUIRE(sim.RunUntil([&] { return sim.AllRunningSee(MemberState::kNormal); }, 30) > 0);
    sim.Run(10);
    sim.Crash(3);
    int rounds = sim.RunUntil([&] { return sim.AllSee(3, MemberState::kDown); }, 100);
    REQUIRE(rounds > 0);
    // Its last heartbeat reached the others during the round before the
    // crash, so suspicion comes no earlier than TimeoutRounds later.
    CHECK(rounds >= TimeoutRounds(sim.config()));
    CHECK(rounds <= TimeoutRounds(sim.config()) + 8);
    worst = std::max(worst, rounds);
    for (size_t i = 0; i < sim.size(); i++) {
      if (i == 3) continue;
      CHECK(sim.CountEvents(i, 3, Kind::kDown) == 1);
      MemberInfo mi = sim.InfoAt(i, 3);
      CHECK(mi.suspected);
      CHECK(mi.reporters >= 1);
      CHECK_FALSE(sim.m(i).IsUp(sim.id(3)));
    }
    CheckDownFollowsSuspicion(sim);
    // Nobody else went down.
    CHECK(sim.TotalDownEvents() == 4);
  }
  MESSAGE("crash detected everywhere within "
          << worst << " rounds (timeout = " << TimeoutRounds(SimConfig{}) << " rounds)");
}

TEST_CASE("a single source never marks a node down") {
  uint64_t seed = test::TestSeed(0x5eed0003);
  SUBCASE("two nodes: the survivor suspects its crashed peer but has nobody to confirm it") {
    Sim sim(seed, 2);
    sim.MeetThrough(0);
    sim.SetAllNormal();
    REQUIRE(sim.RunUntil([&] { return sim.AllRunningSee(MemberState::kNormal); }, 30) > 0);
    sim.Crash(1);
    sim.Run(10 * TimeoutRounds(sim.config()));
    MemberInfo mi = sim.InfoAt(0, 1);
    CHECK(mi.suspected);
    CHECK(mi.state == MemberState::kNormal);
    CHECK(sim.m(0).IsUp(sim.id(1)));
    CHECK(sim.TotalDownEvents() == 0);
  }
  SUBCASE("a node that hears nobody suspects everyone, and its stale reports convince nobody") {
    Sim sim(seed, 5);
    sim.MeetThrough(0);
    sim.SetAllNormal();
    REQUIRE(sim.RunUntil([&] { return sim.AllRunningSee(MemberState::kNormal); }, 30) > 0);
    for (size_t j = 1; j < sim.size(); j++) sim.Block(j, 0);  // node 0 can send only
    sim.Run(10 * TimeoutRounds(sim.config()));
    for (size_t j = 1; j < sim.size(); j++) {
      MemberInfo mi = sim.InfoAt(0, j);
      CHECK(mi.suspected);
      CHECK(mi.state == MemberState::kNormal);
      CHECK(mi.reporters == 0);
    }
    CHECK(sim.TotalDownEvents() == 0);
    for (size_t i = 1; i < sim.size(); i++) CHECK(sim.InfoAt(i, 0).state == MemberState::kNormal);
    // Healing clears node 0's suspicions.
    sim.Heal();
    REQUIRE(sim.RunUntil([&] { return sim.InfoAt(0, 4).suspected == false; }, 20) > 0);
  }
}

TEST_CASE("a restarted node is revived everywhere and seen as a restart") {
  uint64_t seed = test::TestSeed(0x5eed0004);
  for (int run = 0; run < 10; run++) {
    INFO("seed " << seed + run);
    Sim sim(seed + run, 5);
    sim.MeetThrough(0);
    sim.SetAllNormal();
    REQUIRE(sim.RunUntil([&] { return sim.AllRunningSee(MemberState::kNormal); }, 30) > 0);
    sim.Run(60);  // persisted at round 50: the file's heartbeat is stale
    uint64_t hb_before = sim.m(2).self().heartbeat;
    sim.Crash(2);
    REQUIRE(sim.RunUntil([&] { return sim.AllSee(2, MemberState::kDown); }, 100) > 0);
    sim.Restart(2);
    CHECK(sim.m(2).self().heartbeat > hb_before);  // the generation moved on
    CHECK(sim.m(2).self().state == MemberState::kNormal);
    int rounds = sim.RunUntil([&] { return sim.AllRunningSee(MemberState::kNormal); }, 30);
    REQUIRE(rounds > 0);
    CHECK(rounds <= 8);
    if (run == 0) MESSAGE("restarted node revived everywhere in " << rounds << " rounds");
    for (size_t i = 0; i < sim.size(); i++) {
      if (i == 2) continue;
      CHECK(sim.CountEvents(i, 2, Kind::kUp) == 1);
      CHECK(sim.CountEvents(i, 2, Kind::kRestarted) == 1);
    }
  }
}

TEST_CASE("a restart within node_timeout is noticed without going down") {
  Sim sim(test::TestSeed(0x5eed0005), 4);
  sim.MeetThrough(0);
  sim.SetAllNormal();
  REQUIRE(sim.RunUntil([&] { return sim.AllRunningSee(MemberState::kNormal); }, 30) > 0);
  sim.Persist(1);
  sim.Crash(1);
  sim.Run(3);
  sim.Restart(1);
  sim.Run(10);
  CHECK(sim.AllRunningSee(MemberState::kNormal));
  CHECK(sim.TotalDownEvents() == 0);
  for (size_t i : {0, 2, 3}) CHECK(sim.CountEvents(i, 1, Kind::kRestarted) == 1);
}

TEST_CASE("a partitioned node is marked down by the majority and revives when healed") {
  uint64_t seed = test::TestSeed(0x5eed0006);
  for (int run = 0; run < 10; run++) {
    INFO("seed " << seed + run);
    Sim sim(seed + run, 5);
    sim.MeetThrough(0);
    sim.SetAllNormal();
    REQUIRE(sim.RunUntil([&] { return sim.AllRunningSee(MemberState::kNormal); }, 30) > 0);
    sim.Partition({4});
    REQUIRE(sim.RunUntil([&] { return sim.AllSee(4, MemberState::kDown); }, 100) > 0);
    sim.Run(20);
    // Alone, node 4 has no second source: it suspects, marks nobody down.
    for (size_t j = 0; j < 4; j++) CHECK(sim.InfoAt(4, j).state == MemberState::kNormal);
    sim.Heal();
    int rounds = sim.RunUntil([&] { return sim.AllRunningSee(MemberState::kNormal); }, 30);
    REQUIRE(rounds > 0);
    CHECK(rounds <= 8);
    if (run == 0) MESSAGE("healed node revived everywhere in " << rounds << " rounds");
    CHECK(sim.TotalDownEvents() == 4);
  }
}

TEST_CASE("a two-three split marks the other side down on both sides, and heals") {
  Sim sim(test::TestSeed(0x5eed0007), 5);
  sim.MeetThrough(0);
  sim.SetAllNormal();
  REQUIRE(sim.RunUntil([&] { return sim.AllRunningSee(MemberState::kNormal); }, 30) > 0);
  sim.Partition({0, 1});
  auto split_seen = [&] {
    for (size_t a = 0; a < 5; a++) {
      for (size_t b = 0; b < 5; b++) {
        if (a == b) continue;
        bool same = (a < 2) == (b < 2);
        if (sim.StateAt(a, b) != (same ? MemberState::kNormal : MemberState::kDown)) return false;
      }
    }
    return true;
  };
  REQUIRE(sim.RunUntil(split_seen, 100) > 0);
  sim.Heal();
  REQUIRE(sim.RunUntil([&] { return sim.AllRunningSee(MemberState::kNormal); }, 30) > 0);
}

TEST_CASE("30% message loss with delays, reorders and duplicates still converges and detects") {
  uint64_t seed = test::TestSeed(0x5eed0008);
  int worst_converge = 0, worst_detect = 0;
  for (int run = 0; run < 10; run++) {
    INFO("seed " << seed + run);
    SimConfig config;
    config.drop = 0.3;
    config.dup = 0.05;
    config.max_delay_ms = 250;  // up to 2.5 rounds: messages overtake each other
    Sim sim(seed + run, 7, config);
    sim.MeetThrough(0);
    sim.SetAllNormal();
    int rounds = sim.RunUntil([&] { return sim.AllRunningSee(MemberState::kNormal); }, 60);
    REQUIRE(rounds > 0);
    worst_converge = std::max(worst_converge, rounds);
    sim.Run(200);
    CHECK(sim.AllRunningSee(MemberState::kNormal));
    CHECK(sim.TotalDownEvents() == 0);  // no false positives
    sim.Crash(5);
    int detect = sim.RunUntil([&] { return sim.AllSee(5, MemberState::kDown); }, 100);
    REQUIRE(detect > 0);
    CHECK(detect <= TimeoutRounds(config) + 20);  // worst seen over 60 seeds: +14
    worst_detect = std::max(worst_detect, detect);
    CheckDownFollowsSuspicion(sim);
  }
  MESSAGE("with 30% loss: converged within " << worst_converge << " rounds, crash detected within "
                                             << worst_detect << " rounds");
}

TEST_CASE("Forget removes a member and the ban holds against gossip until it expires") {
  Sim sim(test::TestSeed(0x5eed0009), 4);
  sim.MeetThrough(0);
  sim.SetAllNormal();
  REQUIRE(sim.RunUntil([&] { return sim.AllRunningSee(MemberState::kNormal); }, 30) > 0);
  int64_t t = sim.now();
  REQUIRE(sim.m(0).Forget(sim.id(3), t).ok());
  CHECK_FALSE(sim.m(0).IsKnown(sim.id(3)));
  CHECK(sim.m(0).IsBanned(sim.id(3), t));
  CHECK(sim.CountEvents(0, 3, Kind::kForgotten) == 0);  // not collected yet
  // Node 3 still gossips, and nodes 1 and 2 still know it.
  int64_t ban_rounds = sim.config().options.forget_ban_ms / sim.config().interval_ms;
  for (int r = 0; r + 1 < ban_rounds; r++) {
    sim.RunRound();
    REQUIRE_FALSE(sim.m(0).IsKnown(sim.id(3)));
  }
  // After the ban, gossip brings it back (an admin forgets on every node).
  REQUIRE(sim.RunUntil([&] { return sim.m(0).IsKnown(sim.id(3)); }, 20) > 0);
  CHECK_FALSE(sim.m(0).IsBanned(sim.id(3), sim.now()));
}

TEST_CASE("a left member stays left and is never suspected") {
  Sim sim(test::TestSeed(0x5eed000a), 4);
  sim.MeetThrough(0);
  sim.SetAllNormal();
  REQUIRE(sim.RunUntil([&] { return sim.AllRunningSee(MemberState::kNormal); }, 30) > 0);
  REQUIRE(sim.m(2).SetSelfState(MemberState::kLeaving).ok());
  REQUIRE(sim.RunUntil([&] { return sim.AllSee(2, MemberState::kLeaving); }, 20) > 0);
  REQUIRE(sim.m(2).SetSelfState(MemberState::kLeft).ok());
  REQUIRE(sim.RunUntil([&] { return sim.AllSee(2, MemberState::kLeft); }, 20) > 0);
  sim.Crash(2);
  sim.Run(5 * TimeoutRounds(sim.config()));
  CHECK(sim.AllSee(2, MemberState::kLeft));
  CHECK(sim.TotalDownEvents() == 0);
  CHECK_FALSE(sim.m(0).IsUp(sim.id(2)));
  // A forged newer digest saying normal does not bring it back.
  MemberDigest d = sim.InfoAt(1, 2).state == MemberState::kLeft ? sim.m(2).self() : MemberDigest{};
  d.heartbeat += 1000;
  d.state = MemberState::kNormal;
  Gossip g;
  g.members.push_back(d);
  (void)sim.m(0).OnGossip(sim.id(1), g, sim.now());
  CHECK(sim.StateAt(0, 2) == MemberState::kLeft);
  // Left cannot be undone locally either.
  CHECK(sim.m(2).SetSelfState(MemberState::kNormal).IsInvalidArgument());
}

// ---------------------------------------------------------------------------
// Single-instance tests.

MemberDigest Digest(uint64_t id, uint64_t hb, MemberState state = MemberState::kNormal) {
  MemberDigest d;
  d.node_id = id;
  d.host = "10.0.0." + std::to_string(id % 250);
  d.port = 7000;
  d.bus_port = 17000;
  d.zone = "a";
  d.weight = 2;
  d.heartbeat = hb;
  d.state = state;
  return d;
}

Membership::Options QuietOptions() {
  Membership::Options o;
  o.node_timeout_ms = 1000;
  o.log = false;
  return o;
}

TEST_CASE("suspicion reports count only at the heartbeat we hold and only from others") {
  util::Random rng(1);
  Membership m(QuietOptions(), Digest(1, 100), &rng);
  Gossip g;
  g.members = {Digest(2, 50), Digest(3, 70)};
  CHECK_FALSE(m.OnGossip(2, g, 0).ignored);
  // Node 2 reports node 3 down at an older heartbeat: stale, not counted.
  g.members = {Digest(2, 51), Digest(3, 69, MemberState::kDown)};
  (void)m.OnGossip(2, g, 10);
  // Node 3 "reports itself" down: means nothing.
  g.members = {Digest(3, 70, MemberState::kDown)};
  (void)m.OnGossip(3, g, 20);
  (void)m.Tick(1000);  // both suspected now
  std::vector<MemberInfo> info = m.Members(1000);
  REQUIRE(info.size() == 3);
  CHECK(info[2].node_id == 3);
  CHECK(info[2].suspected);
  CHECK(info[2].reporters == 0);
  CHECK(m.IsUp(3));
  // Node 2 (fresh) reports node 3 down at heartbeat 70: confirmed.
  g.members = {Digest(2, 60), Digest(3, 70, MemberState::kDown)};
  (void)m.OnGossip(2, g, 1100);
  CHECK_FALSE(m.IsUp(3));
  CHECK(m.IsUp(2));
  std::vector<MemberEvent> events = m.TakeEvents();
  REQUIRE(!events.empty());
  CHECK(events.back().kind == Kind::kDown);
  CHECK(events.back().text.find("confirmed by 0000000000000002") != std::string::npos);
  CHECK(events.back().text.find("is now down") != std::string::npos);
  // Our own gossip lists it as down; a newer heartbeat revives it.
  Gossip mine = m.MakeGossip();
  REQUIRE(mine.members.size() == 3);
  CHECK(mine.members[0].node_id == 1);
  CHECK(mine.members[2].state == MemberState::kDown);
  g.members = {Digest(3, 71)};
  (void)m.OnGossip(2, g, 1200);
  CHECK(m.IsUp(3));
  events = m.TakeEvents();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == Kind::kUp);
}

TEST_CASE("a report is kept until the heartbeat advances and confirms a later suspicion") {
  util::Random rng(2);
  Membership m(QuietOptions(), Digest(1, 100), &rng);
  Gossip g;
  g.members = {Digest(2, 5), Digest(3, 9, MemberState::kDown)};
  (void)m.OnGossip(2, g, 0);
  CHECK(m.IsUp(3));  // a report alone is not enough
  (void)m.Tick(999);
  CHECK(m.IsUp(3));
  (void)m.Tick(1000);  // our own suspicion completes it
  CHECK_FALSE(m.IsUp(3));
  CHECK(m.IsUp(2));  // node 2 is silent too, but nobody reported it: suspected only
  CHECK(m.Members(1000)[1].suspected);
  CHECK(m.Members(1000)[1].state == MemberState::kNormal);
}

TEST_CASE("gossip about ourselves with a newer heartbeat moves ours past it") {
  util::Random rng(3);
  Membership m(QuietOptions(), Digest(1, 100), &rng);
  Gossip g;
  g.members = {Digest(2, 5), Digest(1, 500, MemberState::kDown)};
  (void)m.OnGossip(2, g, 0);
  CHECK(m.self().heartbeat == 501);
  CHECK(m.self().state == MemberState::kNormal);
  CHECK(m.OnGossip(1, g, 0).ignored);  // from ourselves
}

TEST_CASE("InitialHeartbeat puts the boot time above every earlier run's beats") {
  uint64_t first = InitialHeartbeat(kWallBase, 0);
  CHECK(HeartbeatGeneration(first) == static_cast<uint64_t>(kWallBase));
  // A run that beat once per ms (the fastest allowed) for 10 s...
  uint64_t last = first + 10'000;
  // ...is outranked by a boot 10 s later, even with no persisted heartbeat.
  CHECK(InitialHeartbeat(kWallBase + 10'000, 0) > last);
  // A clock that stepped back is covered by the persisted heartbeat.
  CHECK(InitialHeartbeat(kWallBase - 5'000, last) == last + 1);
}

TEST_CASE("Meet, Forget and SetSelfState check their arguments") {
  util::Random rng(4);
  Membership m(QuietOptions(), Digest(1, 100, MemberState::kJoining), &rng);
  CHECK(m.Meet(0, "h", 1, 2, 0).IsInvalidArgument());
  CHECK(m.Meet(1, "h", 1, 2, 0).IsInvalidArgument());
  CHECK(m.Meet(2, std::string(300, 'h'), 1, 2, 0).IsInvalidArgument());
  REQUIRE(m.Meet(2, "h", 1, 2, 0).ok());
  CHECK(m.IsKnown(2));
  CHECK(m.Forget(1, 0).IsInvalidArgument());
  CHECK(m.Forget(9, 0).IsNotFound());
  REQUIRE(m.Forget(2, 0).ok());
  Gossip g;
  g.members = {Digest(2, 5)};
  CHECK(m.OnGossip(2, g, 10).ignored);
  CHECK(m.OnGossip(3, g, 10).ignored == false);
  CHECK_FALSE(m.IsKnown(2));
  REQUIRE(m.Meet(2, "h", 1, 2, 20).ok());  // an explicit meet lifts the ban
  CHECK_FALSE(m.IsBanned(2, 20));

  uint64_t hb = m.self().heartbeat;
  CHECK(m.SetSelfState(MemberState::kDown).IsInvalidArgument());
  CHECK(m.SetSelfState(MemberState::kJoining).ok());  // current state: no-op
  CHECK(m.self().heartbeat == hb);
  REQUIRE(m.SetSelfState(MemberState::kNormal).ok());
  CHECK(m.self().heartbeat == hb + 1);
  CHECK(m.SetSelfState(MemberState::kJoining).IsInvalidArgument());
  REQUIRE(m.SetSelfState(MemberState::kLeaving).ok());
  REQUIRE(m.SetSelfState(MemberState::kNormal).ok());  // leave cancelled
  REQUIRE(m.SetSelfState(MemberState::kLeft).ok());
  CHECK(m.SetSelfState(MemberState::kLeaving).IsInvalidArgument());
  CHECK_FALSE(m.IsUp(1));
}

TEST_CASE("peer choice: fanout live members, down ones only sometimes, never left ones") {
  util::Random rng(test::TestSeed(0x5eed000b));
  Membership::Options o = QuietOptions();
  o.fanout = 3;
  Membership m(o, Digest(1, 100), &rng);
  Gossip g;
  for (uint64_t id = 2; id <= 8; id++) g.members.push_back(Digest(id, 10));
  g.members.push_back(Digest(9, 10, MemberState::kLeft));
  (void)m.OnGossip(2, g, 0);
  int down_picks = 0;
  for (int r = 0; r < 200; r++) {
    // Keep 2..6 alive; 7 and 8 go silent and are reported down by node 2.
    Gossip fresh;
    for (uint64_t id = 2; id <= 6; id++) fresh.members.push_back(Digest(id, 11 + r));
    fresh.members.push_back(Digest(7, 10, MemberState::kDown));
    fresh.members.push_back(Digest(8, 10, MemberState::kDown));
    (void)m.OnGossip(2, fresh, 100 * r);
    GossipRound round = m.Tick(100 * r);
    std::set<uint64_t> ids;
    for (const GossipTarget& t : round.targets) {
      CHECK(t.node_id != 1);
      CHECK(t.node_id != 9);
      CHECK(ids.insert(t.node_id).second);
      if (t.node_id == 7 || t.node_id == 8) down_picks++;
    }
    if (r >= 10) {
      CHECK_FALSE(m.IsUp(7));
      CHECK(round.targets.size() >= 3);
      CHECK(round.targets.size() <= 4);
    }
  }
  // Probability 2 / (5 + 1) per round.
  CHECK(down_picks > 30);
  CHECK(down_picks < 110);
}

ring::Ring MakeRing(uint64_t epoch, uint64_t author) {
  std::vector<ring::Member> members = {{1, "a", 1}, {2, "b", 1}};
  ring::Ring r;
  REQUIRE(ring::Ring::Build(epoch, author, members, {1, 2, 1, 2}, &r).ok());
  return r;
}

TEST_CASE("a newer ring in gossip is reported; an older, equal or corrupt one is ignored") {
  util::Random rng(5);
  Membership m(QuietOptions(), Digest(1, 100), &rng);
  m.SetRingEpoch(5, 2);
  CHECK(m.self().ring_epoch == 5);
  auto offer = [&](std::optional<std::string> blob) {
    Gossip g;
    g.members = {Digest(2, 10)};
    g.ring = std::move(blob);
    return m.OnGossip(2, g, 0);
  };
  auto encoded = [](const ring::Ring& r) {
    std::string s;
    ring::EncodeRing(r, &s);
    return s;
  };
  CHECK_FALSE(offer(std::nullopt).newer_ring.has_value());
  CHECK_FALSE(offer(encoded(MakeRing(4, 9))).newer_ring.has_value());
  CHECK_FALSE(offer(encoded(MakeRing(5, 2))).newer_ring.has_value());
  CHECK_FALSE(offer(encoded(MakeRing(5, 1))).newer_ring.has_value());
  GossipOutcome out = offer(encoded(MakeRing(5, 3)));  // same epoch, higher author
  REQUIRE(out.newer_ring.has_value());
  CHECK(*out.newer_ring == MakeRing(5, 3));
  out = offer(encoded(MakeRing(6, 1)));
  REQUIRE(out.newer_ring.has_value());
  CHECK(out.newer_ring->epoch() == 6);
  std::string bad = encoded(MakeRing(7, 1));
  bad[3] ^= 1;
  CHECK_FALSE(offer(bad).newer_ring.has_value());
  CHECK_FALSE(offer(std::string("\x01garbage")).newer_ring.has_value());

  // send_ring: to peers whose announced epoch is older than ours.
  Gossip g;
  MemberDigest d2 = Digest(2, 20);
  d2.ring_epoch = 5;
  MemberDigest d3 = Digest(3, 20);
  d3.ring_epoch = 4;
  g.members = {d2, d3};
  (void)m.OnGossip(2, g, 0);
  GossipRound round = m.Tick(10);
  REQUIRE(round.targets.size() == 2);
  for (const GossipTarget& t : round.targets) CHECK(t.send_ring == (t.node_id == 3));
}

// ---------------------------------------------------------------------------
// Membership file.

PersistedMembership SampleFile() {
  PersistedMembership p;
  p.self_id = 0x22;
  MemberDigest a;
  a.node_id = 0x11;
  a.host = "h";
  a.port = 7000;
  a.bus_port = 17000;
  a.zone = "a";
  a.weight = 1;
  a.heartbeat = 5;
  a.state = MemberState::kNormal;
  MemberDigest b;
  b.node_id = 0x22;
  b.host = "";
  b.port = 7001;
  b.bus_port = 17001;
  b.zone = "";
  b.weight = 2;
  b.heartbeat = 0x100;
  b.state = MemberState::kLeaving;
  p.members = {b, a};  // any order; encoded by id
  return p;
}

TEST_CASE("membership file: the documented worked example, byte for byte") {
  std::string bytes;
  EncodeMembership(SampleFile(), &bytes);
  // MEMBERSHIP.md, "Worked example".
  std::string expect_body =
      "01"
      "2200000000000000"
      "02"
      "1100000000000000"
      "0168"
      "581b"
      "6842"
      "0161"
      "01"
      "01"
      "0500000000000000"
      "2200000000000000"
      "00"
      "591b"
      "6942"
      "00"
      "02"
      "02"
      "0001000000000000";
  REQUIRE(bytes.size() == expect_body.size() / 2 + 4);
  CHECK(Hex(bytes.substr(0, bytes.size() - 4)) == expect_body);
  uint32_t crc = util::crc32c::Mask(util::crc32c::Value(bytes.data(), bytes.size() - 4));
  CHECK(util::DecodeFixed32(bytes.data() + bytes.size() - 4) == crc);
  MESSAGE("worked example: " << Hex(bytes));

  PersistedMembership back;
  REQUIRE(DecodeMembership(bytes, &back).ok());
  CHECK(back.self_id == 0x22);
  REQUIRE(back.members.size() == 2);
  CHECK(back.members[0] == SampleFile().members[1]);
  CHECK(back.members[1] == SampleFile().members[0]);
}

TEST_CASE("membership file round-trips a live membership and restores it") {
  util::Random rng(6);
  Membership m(QuietOptions(), Digest(1, 100), &rng);
  Gossip g;
  g.members = {Digest(2, 10), Digest(3, 20, MemberState::kLeft), Digest(4, 30, MemberState::kDown)};
  (void)m.OnGossip(2, g, 0);
  std::string bytes;
  EncodeMembership(m.ToPersisted(), &bytes);
  PersistedMembership p;
  REQUIRE(DecodeMembership(bytes, &p).ok());
  CHECK(p.self_id == 1);
  CHECK(p.members.size() == 4);
  std::unique_ptr<Membership> r = Membership::Restore(QuietOptions(), p, kWallBase, 0, &rng);
  CHECK(r->self_id() == 1);
  CHECK(r->self().heartbeat == InitialHeartbeat(kWallBase, 0));
  CHECK(r->self().zone == "a");
  std::vector<MemberInfo> info = r->Members(0);
  REQUIRE(info.size() == 4);
  CHECK(info[1].heartbeat == 10);
  CHECK(info[2].state == MemberState::kLeft);
  CHECK(info[3].state == MemberState::kNormal);  // down is never persisted
  CHECK(info[3].host == "10.0.0.4");
}

TEST_CASE("membership file: every truncation and every bit flip is Corruption") {
  std::string bytes;
  EncodeMembership(SampleFile(), &bytes);
  PersistedMembership out;
  out.self_id = 77;
  for (size_t n = 0; n < bytes.size(); n++) {
    util::Status s = DecodeMembership(std::string_view(bytes).substr(0, n), &out);
    CHECK_MESSAGE(s.IsCorruption(), "prefix " << n);
  }
  for (size_t i = 0; i < bytes.size(); i++) {
    for (int bit = 0; bit < 8; bit++) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      CHECK_MESSAGE(DecodeMembership(bad, &out).IsCorruption(), "byte " << i << " bit " << bit);
    }
  }
  CHECK(DecodeMembership(bytes + "x", &out).IsCorruption());
  CHECK(out.self_id == 77);  // untouched
}

// Re-signs a body with a valid checksum, so the field checks behind it run.
std::string Signed(std::string body) {
  util::PutFixed32(&body, util::crc32c::Mask(util::crc32c::Value(body.data(), body.size())));
  return body;
}

TEST_CASE("membership file: well-checksummed but invalid fields are Corruption") {
  std::string good;
  EncodeMembership(SampleFile(), &good);
  std::string body = good.substr(0, good.size() - 4);
  PersistedMembership out;
  REQUIRE(DecodeMembership(Signed(body), &out).ok());
  auto with = [&](size_t pos, const std::string& b) {
    std::string s = body;
    s.replace(pos, b.size(), b);
    return Signed(s);
  };
  auto hexbytes = [](std::initializer_list<int> v) {
    std::string s;
    for (int c : v) s.push_back(static_cast<char>(c));
    return s;
  };
  CHECK(DecodeMembership(with(0, hexbytes({2})), &out).IsCorruption());     // format
  CHECK(DecodeMembership(with(1, hexbytes({0x33})), &out).IsCorruption());  // self missing
  CHECK(DecodeMembership(with(9, hexbytes({0})), &out).IsCorruption());     // count 0
  CHECK(DecodeMembership(with(9, hexbytes({3})), &out).IsCorruption());     // count too big
  CHECK(DecodeMembership(with(9, hexbytes({0xff, 0xff, 0x7f})), &out).IsCorruption());
  CHECK(DecodeMembership(with(10, hexbytes({0x33})), &out).IsCorruption());  // ids not ascending
  CHECK(DecodeMembership(with(10, std::string(8, '\0')), &out).IsCorruption());  // id 0
  CHECK(DecodeMembership(with(27, hexbytes({3})), &out).IsCorruption());         // state down
  CHECK(DecodeMembership(with(27, hexbytes({9})), &out).IsCorruption());         // state 9
  CHECK(DecodeMembership(with(26, hexbytes({0xff, 0xff, 0x04})), &out).IsCorruption());  // weight
  CHECK(DecodeMembership(with(18, hexbytes({0x7f})), &out).IsCorruption());              // host len
  CHECK(DecodeMembership(Signed(body + "z"), &out).IsCorruption());                      // trailing
}

}  // namespace
}  // namespace kv::cluster
