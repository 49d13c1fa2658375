// cluster.state (cluster/PROTOCOL.md, "State file") and node id text: round
// trips through real files, every truncation and bit flip refused, and the
// 40-digit node id form that CLUSTER NODES prints parsed back.
#include "cluster/state_file.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "cluster/cluster_node.h"
#include "ring/claim.h"
#include "util/coding.h"
#include "util/crc32c.h"

namespace kv::cluster {
namespace {

ring::Ring ThreeNodeRing() {
  ring::Ring r;
  util::Status s = ring::NewRing(
      64, {ring::Member{11, "a", 1}, ring::Member{22, "b", 2}, ring::Member{33, "c", 1}}, 11,
      ring::ClaimOptions{}, &r);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  return r;
}

struct TmpDir {
  std::string path;
  TmpDir() {
    std::string t = "/tmp/kv-state-XXXXXX";
    REQUIRE(mkdtemp(t.data()) != nullptr);
    path = t;
  }
  ~TmpDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

TEST_CASE("cluster.state round-trips through a file, and a missing one is NotFound") {
  TmpDir dir;
  ClusterStateData got;
  CHECK(LoadState(dir.path, &got).IsNotFound());
  ClusterStateData state{ThreeNodeRing(), "member bytes", {}};
  REQUIRE(SaveState(dir.path, state).ok());
  REQUIRE(LoadState(dir.path, &got).ok());
  CHECK(got.ring == state.ring);
  CHECK(got.members == "member bytes");
  CHECK(!std::filesystem::exists(dir.path + "/cluster.state.tmp"));
}

TEST_CASE("a running rebalance's target ring round-trips; a file without one still opens") {
  ring::Ring target;
  REQUIRE(ring::NewRing(64, {ring::Member{11, "a", 1}, ring::Member{44, "d", 1}}, 44,
                        ring::ClaimOptions{}, &target)
              .ok());
  std::string bytes;
  EncodeState(ClusterStateData{ThreeNodeRing(), "m", target}, &bytes);
  ClusterStateData out;
  REQUIRE(DecodeState(bytes, &out).ok());
  CHECK(out.rebalance_target == target);
  CHECK(out.ring == ThreeNodeRing());

  // The layout of earlier builds: ring and members only, crc over both.
  std::string ring_bytes, body, old;
  ring::EncodeRing(ThreeNodeRing(), &ring_bytes);
  util::PutLengthPrefixed(&body, ring_bytes);
  util::PutLengthPrefixed(&body, "m");
  old.append("KVCS\x01", 5);
  util::PutFixed32(&old, util::crc32c::Mask(util::crc32c::Value(body.data(), body.size())));
  old += body;
  REQUIRE(DecodeState(old, &out).ok());
  CHECK(out.ring == ThreeNodeRing());
  CHECK(out.rebalance_target.partitions() == 0);
}

TEST_CASE("every truncation and every bit flip of cluster.state is Corruption") {
  std::string bytes;
  EncodeState(ClusterStateData{ThreeNodeRing(), "m", {}}, &bytes);
  ClusterStateData out;
  REQUIRE(DecodeState(bytes, &out).ok());
  for (size_t n = 0; n < bytes.size(); n++) {
    CHECK_MESSAGE(DecodeState(bytes.substr(0, n), &out).IsCorruption(), "prefix ", n);
  }
  for (size_t i = 0; i < bytes.size(); i++) {
    for (int bit = 0; bit < 8; bit++) {
      std::string damaged = bytes;
      damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
      CHECK_MESSAGE(DecodeState(damaged, &out).IsCorruption(), "byte ", i, " bit ", bit);
    }
  }
}

TEST_CASE("node ids print as 40 hex digits and parse back from either form") {
  CHECK(NodeIdText(0x04c0d5c0904a5397ULL) == "04c0d5c0904a5397000000000000000000000000");
  uint64_t id = 0;
  CHECK(ParseNodeId("04c0d5c0904a5397000000000000000000000000", &id));
  CHECK(id == 0x04c0d5c0904a5397ULL);
  CHECK(ParseNodeId("04C0D5C0904A5397", &id));
  CHECK(id == 0x04c0d5c0904a5397ULL);
  CHECK(!ParseNodeId("04c0d5c0904a5397000000000000000000000001", &id));  // not our form
  CHECK(!ParseNodeId("04c0d5c0904a539", &id));
  CHECK(!ParseNodeId("g4c0d5c0904a5397", &id));
  CHECK(!ParseNodeId("0000000000000000", &id));  // 0 is never an id
}

TEST_CASE("a node without cluster.state becomes a cluster of one and keeps that ring") {
  TmpDir dir;
  NodeOptions o;
  o.dir = dir.path;
  o.node_id = 77;
  o.partitions = 8;
  std::unique_ptr<ClusterNode> node;
  REQUIRE(ClusterNode::Open(o, &node).ok());
  CHECK(node->ring().partitions() == 8);
  CHECK(node->OwnsSlot(0));
  CHECK(node->OwnsSlot(16383));
  REQUIRE(node->SlotRuns().size() == 1);
  CHECK(node->SlotRuns()[0].first == 0);
  CHECK(node->SlotRuns()[0].last == 16383);
  // A second open reads the same ring back (even with another default Q).
  o.partitions = 256;
  REQUIRE(ClusterNode::Open(o, &node).ok());
  CHECK(node->ring().partitions() == 8);
  // Another id: the ring does not name it, so it starts over.
  o.node_id = 78;
  std::string logged;
  o.log = [&](const std::string& m) { logged = m; };
  REQUIRE(ClusterNode::Open(o, &node).ok());
  CHECK(node->ring().partitions() == 256);
  CHECK(logged.find("starting over") != std::string::npos);
  o.partitions = 3;
  o.node_id = 79;
  CHECK(ClusterNode::Open(o, &node).IsInvalidArgument());
}

TEST_CASE("SlotRuns merges the slots of consecutive partitions with one owner") {
  TmpDir dir;
  ClusterStateData state{ThreeNodeRing(), "", {}};
  REQUIRE(SaveState(dir.path, state).ok());
  NodeOptions o;
  o.dir = dir.path;
  o.node_id = 22;
  std::unique_ptr<ClusterNode> node;
  REQUIRE(ClusterNode::Open(o, &node).ok());
  uint32_t next = 0;
  for (const OwnedSlots& r : node->SlotRuns()) {
    CHECK(r.first == next);
    CHECK(r.owner == node->OwnerOfSlot(r.first));
    CHECK(r.owner == node->OwnerOfSlot(r.last));
    next = r.last + 1;
  }
  CHECK(next == 16384);
}

}  // namespace
}  // namespace kv::cluster
