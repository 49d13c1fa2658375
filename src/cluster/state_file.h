// StateFile: this node's cluster view on disk, Redis's nodes.conf role: the
// ring (ring/FORMAT.md) and the membership table (opaque bytes the
// membership module encodes), in one file `cluster.state` in the data dir,
// replaced atomically (write a temp file, fsync, rename, fsync the dir) so
// a crash leaves the old state or the new one, never a mix. Layout in
// cluster/PROTOCOL.md, "State file". ClusterNode writes it from a libuv
// worker while serving, so the loop never waits for the fsync.
//
// Thread safety: writes to one directory are serialized inside
// WriteStateFile, so any thread may call it.
#pragma once

#include <string>
#include <string_view>

#include "ring/ring.h"
#include "util/status.h"

namespace kv::cluster {

constexpr const char* kStateFileName = "cluster.state";

struct ClusterStateData {
  ring::Ring ring;
  std::string members;  // the membership module's encoding; may be empty
  // The ring a rebalance this node coordinates is moving toward; empty
  // (partitions() == 0) when none is running.
  ring::Ring rebalance_target;
};

// Writes `state` to dir/cluster.state, durably.
[[nodiscard]] util::Status SaveState(const std::string& dir, const ClusterStateData& state);

// Writes EncodeState's `bytes` to dir/cluster.state, durably, unless a
// write of a higher `generation` to this file already happened: writes may
// run on worker threads and finish out of order, and the newest view must
// win. Thread safe.
[[nodiscard]] util::Status WriteStateFile(const std::string& dir, const std::string& bytes,
                                          uint64_t generation);

// Reads dir/cluster.state. NotFound if there is none (a new node);
// Corruption naming the file and what is wrong if it is damaged (the server
// refuses to start rather than forget which partitions it owns).
[[nodiscard]] util::Status LoadState(const std::string& dir, ClusterStateData* state);

// The encoding SaveState writes, and its inverse (exposed for tests).
void EncodeState(const ClusterStateData& state, std::string* dst);
[[nodiscard]] util::Status DecodeState(std::string_view bytes, ClusterStateData* state);

}  // namespace kv::cluster
