// ServerPartitions: the server's side of partition transfers
// (cluster/transfer.h): reads and writes a partition's records in the
// keyspace by storage key, records the keys written while a partition is
// copied (ChangeTracker), and keeps the set of frozen slots whose writes the
// server holds back during a handoff.
//
// Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cluster/transfer.h"
#include "server/change_tracker.h"
#include "server/keyspace.h"
#include "server/persistence.h"

namespace kv::server {

class ServerPartitions : public cluster::PartitionStore {
 public:
  // `on_thaw` runs after slots are thawed (the server then re-runs the
  // writes it held).
  // `persistence` is nullptr with `storage memory` (nothing to wait for).
  ServerPartitions(Keyspace* keyspace, Persistence* persistence, std::function<void()> on_thaw);
  ~ServerPartitions() override;

  util::Status ReadRange(uint32_t first_slot, uint32_t end_slot, std::string_view from,
                         size_t max_bytes, std::vector<cluster::TransferRecord>* out,
                         std::string* next) override;
  util::Status Apply(const std::vector<cluster::TransferRecord>& records) override;
  util::Status ClearSome(uint32_t first_slot, uint32_t end_slot, size_t max_records, bool* empty,
                         size_t* deleted) override;
  void Track(uint32_t first_slot, uint32_t end_slot) override;
  bool Tracking(uint32_t first_slot, uint32_t end_slot) const override;
  void Untrack(uint32_t first_slot, uint32_t end_slot) override;
  util::Status TakeChanged(uint32_t first_slot, uint32_t end_slot, size_t max_bytes,
                           std::vector<cluster::TransferRecord>* out, bool* done) override;
  void WhenDurable(std::function<void()> fn) override;
  void Freeze(uint32_t first_slot, uint32_t end_slot) override;
  void Thaw(uint32_t first_slot, uint32_t end_slot) override;

  bool AnyFrozen() const { return frozen_count_ > 0; }
  bool Frozen(uint32_t slot) const { return frozen_count_ > 0 && frozen_[slot] != 0; }

 private:
  Keyspace* keyspace_;
  Persistence* persistence_;
  std::function<void()> on_thaw_;
  ChangeTracker tracker_;
  std::vector<uint8_t> frozen_;  // per slot
  size_t frozen_count_ = 0;
  std::string scratch_;
};

}  // namespace kv::server
