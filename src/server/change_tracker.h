// ChangeTracker: which storage keys writes touched in the slot ranges being
// copied to another node, so the copy can be caught up with exactly those
// keys (cluster/transfer.h). The keyspace notes every write and delete; a
// note costs one byte lookup while no range is tracked.
//
// Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "storage/engine.h"
#include "util/crc16.h"

namespace kv::server {

class ChangeTracker {
 public:
  ChangeTracker() : tracked_(util::kSlotCount, 0) {}

  void Note(std::string_view skey) {
    if (ranges_ == 0 || skey.size() < 2 || tracked_[storage::StorageKeySlot(skey)] == 0) return;
    changed_.emplace(skey);
  }
  // Starts (or restarts, forgetting what was noted) tracking [first, end).
  void Track(uint32_t first, uint32_t end);
  void Untrack(uint32_t first, uint32_t end);
  bool Tracking(uint32_t first, uint32_t end) const;
  // Removes and returns up to `max_keys` noted keys of [first, end) (0: all)
  // in key order; *done when none are left after them.
  std::vector<std::string> Take(uint32_t first, uint32_t end, size_t max_keys, bool* done);
  // Everything was deleted (FLUSHALL): every tracked range stops being
  // tracked, so its transfer starts over instead of missing the deletes.
  void Reset();

 private:
  std::vector<uint8_t> tracked_;  // per slot
  size_t ranges_ = 0;             // tracked slots
  std::set<std::string, std::less<>> changed_;
};

}  // namespace kv::server
