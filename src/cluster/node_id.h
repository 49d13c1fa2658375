// Node ids as text: the 16 hex digits of the 64-bit id (logs, errors,
// node.id), and Redis Cluster's 40-digit width (CLUSTER NODES / SLOTS /
// SHARDS, MYID) so cluster-aware clients and tools accept them.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kv::cluster {

// 16 lower-case hex digits.
std::string NodeIdHex(uint64_t id);
// NodeIdHex, then 24 zeros: 40 digits.
std::string NodeIdText(uint64_t id);
// Parses NodeIdText's form or the bare 16 digits. False if neither, or 0.
bool ParseNodeId(std::string_view text, uint64_t* id);

}  // namespace kv::cluster
