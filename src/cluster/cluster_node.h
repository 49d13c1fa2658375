// ClusterNode: this node's place in the cluster (DESIGN.md section 3): its
// id, its address, and the ring, loaded from or saved to the data dir
// (state_file.h). A node started for the first time is a cluster of one
// that owns every partition. It answers the routing questions the server
// asks per command (who owns this slot?) and gives the views CLUSTER
// NODES / SLOTS / SHARDS print.
//
// Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ring/ring.h"
#include "util/status.h"

namespace kv::cluster {

struct NodeOptions {
  std::string dir;  // holds cluster.state
  uint64_t node_id = 0;
  std::string zone;
  uint32_t weight = 1;
  uint32_t partitions = 256;  // Q, for a new cluster
  std::function<void(const std::string&)> log;
};

// Node ids print as 40 hex digits, the width of Redis Cluster's ids, so
// cluster-aware clients and tools accept them: the 16 digits of the 64-bit
// id, then 24 zeros.
std::string NodeIdText(uint64_t id);
// Parses NodeIdText's form or the bare 16 digits. False if neither.
bool ParseNodeId(std::string_view text, uint64_t* id);

// A contiguous run of slots with one owner.
struct OwnedSlots {
  uint32_t first = 0;
  uint32_t last = 0;  // inclusive, as CLUSTER SLOTS prints
  uint64_t owner = 0;
};

class ClusterNode {
 public:
  // Loads dir/cluster.state, or makes and saves a one-node ring if there is
  // none or it does not name this node (a node whose id changed, e.g. with
  // `storage memory`, starts over as a cluster of one). Corruption if the
  // file is damaged; IOError if it cannot be written.
  [[nodiscard]] static util::Status Open(NodeOptions options, std::unique_ptr<ClusterNode>* out);

  uint64_t id() const { return options_.node_id; }
  const ring::Ring& ring() const { return ring_; }
  uint32_t PartitionOfSlot(uint32_t slot) const;
  uint64_t OwnerOfSlot(uint32_t slot) const;
  bool OwnsSlot(uint32_t slot) const { return OwnerOfSlot(slot) == id(); }
  // Every slot once, ascending, runs of one owner merged.
  std::vector<OwnedSlots> SlotRuns() const;

 private:
  explicit ClusterNode(NodeOptions options) : options_(std::move(options)) {}
  NodeOptions options_;
  ring::Ring ring_;
};

}  // namespace kv::cluster
