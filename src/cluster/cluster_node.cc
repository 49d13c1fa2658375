#include "cluster/cluster_node.h"

#include <cinttypes>
#include <cstdio>

#include "cluster/state_file.h"
#include "ring/claim.h"
#include "ring/partition.h"
#include "util/crc16.h"

namespace kv::cluster {

std::string NodeIdText(uint64_t id) {
  char buf[48];
  snprintf(buf, sizeof(buf), "%016" PRIx64 "000000000000000000000000", id);
  return buf;
}

bool ParseNodeId(std::string_view text, uint64_t* id) {
  if (text.size() != 16 && text.size() != 40) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < text.size(); i++) {
    char c = text[i];
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    if (i < 16) {
      v = v << 4 | static_cast<uint64_t>(d);
    } else if (d != 0) {
      return false;
    }
  }
  if (v == 0) return false;
  *id = v;
  return true;
}

util::Status ClusterNode::Open(NodeOptions options, std::unique_ptr<ClusterNode>* out) {
  std::unique_ptr<ClusterNode> node(new ClusterNode(std::move(options)));
  const NodeOptions& o = node->options_;
  ClusterStateData state;
  util::Status s = LoadState(o.dir, &state);
  if (s.ok() && state.ring.FindMember(o.node_id) != nullptr) {
    node->ring_ = std::move(state.ring);
    *out = std::move(node);
    return util::Status::OK();
  }
  if (!s.ok() && !s.IsNotFound()) return s;
  if (s.ok() && o.log) {
    o.log("cluster.state names a ring without this node (id " + NodeIdText(o.node_id) +
          "); starting over as a cluster of one");
  }
  if (!ring::IsValidPartitionCount(o.partitions)) {
    return util::Status::InvalidArgument(
        "cluster-partitions must be a power of two from 1 to "
        "16384, not " +
        std::to_string(o.partitions));
  }
  ring::Ring fresh;
  s = ring::NewRing(o.partitions, {ring::Member{o.node_id, o.zone, o.weight}}, o.node_id,
                    ring::ClaimOptions{}, &fresh);
  if (!s.ok()) return s;
  state.ring = fresh;
  state.members.clear();
  s = SaveState(o.dir, state);
  if (!s.ok()) return s;
  node->ring_ = std::move(fresh);
  *out = std::move(node);
  return util::Status::OK();
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
