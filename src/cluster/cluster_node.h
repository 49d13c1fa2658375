// ClusterNode: this node's place in the cluster (DESIGN.md sections 3 and
// 5): its id and address, the ring, the membership view with its failure
// detector, and the bus to the other nodes. Loaded from and saved to the
// data dir (state_file.h); a node started for the first time is a cluster
// of one that owns every partition. It gossips every gossip-interval-ms,
// installs newer rings it hears of (rings that name this node, or, while
// it is still alone, a real cluster's ring: a stranger's one-node ring must
// never take our partitions), answers the
// routing questions the server asks per command (who owns this slot?),
// forwards commands to their owner, and gives the views CLUSTER NODES /
// SLOTS / SHARDS print.
//
// Thread safety: loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/bus.h"
#include "cluster/membership.h"
#include "cluster/messages.h"
#include "cluster/node_id.h"
#include "cluster/transfer.h"
#include "net/loop.h"
#include "ring/ring.h"
#include "util/random.h"
#include "util/status.h"

namespace kv::cluster {

struct NodeOptions {
  std::string dir;  // holds cluster.state
  uint64_t node_id = 0;
  std::string zone;
  uint32_t weight = 1;
  uint32_t partitions = 256;  // Q, for a new cluster
  // Networking (Start): the bus and what it announces.
  std::string cluster_name = "kv";
  std::string secret;
  std::string host = "127.0.0.1";  // announced client address
  uint16_t port = 0;               // client port
  uint16_t bus_port = 0;
  std::vector<std::string> bind = {"127.0.0.1"};
  int gossip_interval_ms = 100;
  int node_timeout_ms = 5000;
  int request_timeout_ms = 5000;
  TransferOptions transfer;
  std::function<void(const std::string&)> log;
};

// A contiguous run of slots with one owner.
struct OwnedSlots {
  uint32_t first = 0;
  uint32_t last = 0;  // inclusive, as CLUSTER SLOTS prints
  uint64_t owner = 0;
};

// Forward.flags bits (PROTOCOL.md, FORWARD).
constexpr uint32_t kForwardResp3 = 1;  // reply in RESP3 (the client said HELLO 3)
constexpr uint32_t kForwardLocal = 2;  // run on the receiver only, never routed on

class ClusterNode {
 public:
  // Runs a forwarded command and calls `done` with its RESP reply bytes.
  using ForwardHandler =
      std::function<void(const Forward& request, std::function<void(std::string)> done)>;

  // Loads dir/cluster.state, or makes and saves a one-node ring if there is
  // none or it does not name this node (a node whose id changed, e.g. with
  // `storage memory`, starts over as a cluster of one). Corruption if the
  // file is damaged; IOError if it cannot be written. No networking yet.
  [[nodiscard]] static util::Status Open(NodeOptions options, std::unique_ptr<ClusterNode>* out);
  ~ClusterNode();

  // Listens on the bus port, dials known members, starts gossiping, and
  // goes on with a rebalance this node was coordinating. `store` (which
  // must outlive the node) serves partition transfers.
  [[nodiscard]] util::Status Start(uv_loop_t* loop, ForwardHandler on_forward,
                                   PartitionStore* store);
  // Saves the state and closes the bus (shutdown).
  void Close();

  uint64_t id() const { return options_.node_id; }
  const NodeOptions& options() const { return options_; }
  const ring::Ring& ring() const { return ring_; }
  uint32_t PartitionOfSlot(uint32_t slot) const;
  uint64_t OwnerOfSlot(uint32_t slot) const;
  bool OwnsSlot(uint32_t slot) const { return OwnerOfSlot(slot) == id(); }
  // Every slot once, ascending, runs of one owner merged.
  std::vector<OwnedSlots> SlotRuns() const;

  // Every member known (self first), with addresses and failure-detector
  // state (the membership exists from Open on).
  std::vector<MemberInfo> Members() const;
  bool IsUp(uint64_t id) const;
  BusStats bus_stats() const;

  // CLUSTER MEET: handshake with the node at host:bus_port and add it.
  // The met node joins our ring owning nothing, so it adopts the ring and
  // forwards every key here until a rebalance gives it partitions.
  void Meet(const std::string& host, uint16_t bus_port, std::function<void(util::Status)> done);
  // CLUSTER JOIN: handshakes with the node at host:bus_port and has it
  // MEET us (so its cluster's ring takes us in, rather than ours taking
  // it), then rebalances once the ring is agreed (RebalanceWhenJoined).
  void Join(const std::string& host, uint16_t bus_port, std::function<void(util::Status)> done);
  // CLUSTER FORGET.
  [[nodiscard]] util::Status Forget(uint64_t id);
  // Runs `argv` at node `owner` and calls `done` with its reply (RESP bytes)
  // or the reason it could not (no link, timeout).
  void Forward(uint64_t owner, std::vector<std::string> argv, uint32_t flags,
               std::function<void(util::Status, std::string)> done);
  // A new ring over every member that is up (claim.h: fewest moves), with
  // an epoch above every epoch a member announced. InvalidArgument if the
  // claim cannot be made.
  // `without`: a member to leave out (CLUSTER LEAVE plans without itself).
  [[nodiscard]] util::Status PlanRing(ring::Ring* out, uint64_t without = 0) const;
  // CLUSTER LEAVE: this node turns leaving, and moves every partition it
  // owns to the others (coordinating the transfers itself); once the last
  // one is handed over it installs a ring without itself, turns left, and
  // its data is swept. *moves gets the number of partitions to move.
  // InvalidArgument if it is the only member, Busy if a rebalance runs.
  [[nodiscard]] util::Status Leave(size_t* moves);
  // CLUSTER JOIN, after the MEET: once this node has adopted the cluster's
  // ring and every member agrees on it, it rebalances (within a minute,
  // else it logs why not).
  void RebalanceWhenJoined();
  // Installs `ring` here; it is saved (on a worker) and gossiped.
  void InstallRing(const ring::Ring& ring);
  // True if every member of the ring is up and announces our ring epoch:
  // nobody can hold a newer view of who owns what.
  bool RingAgreed() const;
  // True once CLUSTER LEAVE finished here (the members had agreed then;
  // they no longer gossip with a left node).
  bool HasLeft() const { return membership_->self().state == MemberState::kLeft; }
  // An epoch above every epoch this node or any member announced.
  uint64_t NextEpoch() const;
  // Partition transfers (nullptr before Start).
  Transfers* transfers() { return transfers_.get(); }
  const Transfers* transfers() const { return transfers_.get(); }

  // For Transfers: a bus request with the request timeout, the log, and
  // saving the state (which includes a running rebalance's target).
  void Request(uint64_t peer, FrameType type, std::string_view payload, Bus::RequestCallback done);
  void LogLine(const std::string& line) const { Log(line); }
  void PersistSoon() { SaveSoon(); }

 private:
  explicit ClusterNode(NodeOptions options);
  void Log(const std::string& line) const;
  void GossipTick();
  void OnFrame(uint64_t peer, const FrameView& frame, Bus::Responder reply);
  void HandleEvents();
  // Writes the state now (startup, shutdown: the loop is not serving).
  [[nodiscard]] util::Status SaveNow();
  // Writes the state on a libuv worker: the loop never waits for fsync.
  // One write in flight; a change meanwhile is written after it.
  void SaveSoon();
  std::string EncodedState() const;
  void SyncBusPeers();

  NodeOptions options_;
  ring::Ring ring_;
  util::Random rng_;
  std::unique_ptr<Membership> membership_;
  std::unique_ptr<Bus> bus_;
  std::unique_ptr<net::Timer> gossip_timer_;
  ForwardHandler on_forward_;
  std::unique_ptr<Transfers> transfers_;
  // CLUSTER JOIN's rebalance is due until this (monotonic ms; 0: none).
  int64_t join_deadline_ms_ = 0;
  void MaybeRebalanceJoined();
  // MEET's and JOIN's first part: the bus handshake, then the membership
  // knows the peer. `done` gets the peer's id.
  void Handshake(const std::string& host, uint16_t bus_port,
                 std::function<void(util::Status, uint64_t peer)> done);
  // A rebalance target read from the state file, resumed by Start.
  ring::Ring loaded_target_;
  uv_loop_t* loop_ = nullptr;
  struct SaveJob {
    uv_work_t req;
    ClusterNode* node;
    std::string dir;
    std::string bytes;
    uint64_t generation;
    util::Status status;
  };
  bool save_in_flight_ = false;
  bool save_again_ = false;
  uint64_t save_generation_ = 0;
};

}  // namespace kv::cluster
