#include "server/change_tracker.h"

#include <algorithm>

namespace kv::server {

namespace {
std::string SlotStart(uint32_t slot) {
  std::string k;
  if (slot < util::kSlotCount) storage::MakeStorageKey(static_cast<uint16_t>(slot), "", &k);
  return k;
}
}  // namespace

void ChangeTracker::Track(uint32_t first, uint32_t end) {
  for (uint32_t s = first; s < end && s < util::kSlotCount; s++) {
    if (tracked_[s] == 0) ranges_++;
    tracked_[s] = 1;
  }
  bool done = false;
  (void)Take(first, end, 0, &done);
}

void ChangeTracker::Untrack(uint32_t first, uint32_t end) {
  for (uint32_t s = first; s < end && s < util::kSlotCount; s++) {
    if (tracked_[s] != 0) ranges_--;
    tracked_[s] = 0;
  }
  bool done = false;
  (void)Take(first, end, 0, &done);
}

bool ChangeTracker::Tracking(uint32_t first, uint32_t end) const {
  if (first >= end) return false;
  for (uint32_t s = first; s < end && s < util::kSlotCount; s++) {
    if (tracked_[s] == 0) return false;
  }
  return true;
}

std::vector<std::string> ChangeTracker::Take(uint32_t first, uint32_t end, size_t max_keys,
                                             bool* done) {
  std::vector<std::string> out;
  auto it = changed_.lower_bound(SlotStart(first));
  auto stop = end >= util::kSlotCount ? changed_.end() : changed_.lower_bound(SlotStart(end));
  while (it != stop && (max_keys == 0 || out.size() < max_keys)) {
    out.push_back(*it);
    it = changed_.erase(it);
  }
  *done = it == stop;
  return out;
}

void ChangeTracker::Reset() {
  std::fill(tracked_.begin(), tracked_.end(), 0);
  ranges_ = 0;
  changed_.clear();
}

}  // namespace kv::server
