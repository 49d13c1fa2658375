// Fanout: how a keyed command spreads over the nodes that own its keys, and
// how their replies become the one reply the client expects. Clients never
// see MOVED or CROSSSLOT (unlike Redis Cluster): a node splits MGET, MSET,
// DEL, UNLINK and EXISTS by owner, sends each part to its owner, and
// reassembles the replies in the order of the client's keys.
//
// Pure: no I/O. The server supplies the owner of each key.
//
// Thread safety: functions over values.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "server/command_table.h"

namespace kv::server {

enum class Merge {
  kSingle,        // one part: its reply is the reply
  kArrayInOrder,  // MGET: each part's array elements go back to their keys' places
  kSumIntegers,   // DEL, UNLINK, EXISTS: the sum of the parts' integers
  kAllOk,         // MSET, FLUSHALL: +OK once every part said +OK
  kConcatArrays,  // KEYS: every part's elements, part after part
};

struct FanoutPart {
  uint64_t owner = 0;
  std::vector<std::string> argv;      // the command for this owner
  std::vector<size_t> key_positions;  // which of the client's keys it carries
};

struct FanoutPlan {
  Merge merge = Merge::kSingle;
  size_t keys = 0;                // keys in the client's command
  std::vector<FanoutPart> parts;  // one per owner, in order of first appearance
};

// Calls fn(i) for each index of `argv` that holds one of `cmd`'s keys
// (Redis's first_key, last_key, key_step), in order, until fn returns
// true; true if it did.
template <typename Fn>
bool AnyKeyIndex(const Command& cmd, size_t argc, Fn&& fn) {
  if (cmd.first_key <= 0) return false;
  const size_t first = static_cast<size_t>(cmd.first_key);
  const size_t last = cmd.last_key < 0 ? argc + static_cast<size_t>(cmd.last_key)
                                       : static_cast<size_t>(cmd.last_key);
  const size_t step = static_cast<size_t>(cmd.key_step > 0 ? cmd.key_step : 1);
  for (size_t i = first; i <= last && i < argc; i += step) {
    if (fn(i)) return true;
  }
  return false;
}

// Splits `argv` of `cmd` (arity already checked, cmd->first_key > 0) by the
// owner of each key. A command with all its keys on one owner is one part,
// whatever the command. False with *error set (a Redis-style error reply
// text) if the keys span owners and the command cannot be split without
// losing its meaning (MSETNX: all or nothing).
bool PlanFanout(const Command& cmd, const Argv& argv,
                const std::function<uint64_t(std::string_view key)>& owner_of, FanoutPlan* plan,
                std::string* error);

// For a keyless command that covers the whole cluster (DBSIZE, FLUSHALL,
// FLUSHDB, KEYS): the same command to every node in `nodes`. False if
// `cmd` is not one of them.
bool PlanClusterWide(const Command& cmd, const Argv& argv, const std::vector<uint64_t>& nodes,
                     FanoutPlan* plan);

// The client's reply from the parts' replies (RESP bytes, one per part in
// plan order), or the first part's error if any part failed. False with
// *out = an error reply if a part's reply is not the shape the merge needs.
bool MergeReplies(const FanoutPlan& plan, const std::vector<std::string>& replies,
                  std::string* out);

}  // namespace kv::server
