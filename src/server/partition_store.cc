#include "server/partition_store.h"

#include <memory>

#include "storage/engine.h"
#include "util/crc16.h"

namespace kv::server {

namespace {
std::string SlotStart(uint32_t slot) {
  std::string k;
  storage::MakeStorageKey(static_cast<uint16_t>(slot), "", &k);
  return k;
}
}  // namespace

ServerPartitions::ServerPartitions(Keyspace* keyspace, Persistence* persistence,
                                   std::function<void()> on_thaw)
    : keyspace_(keyspace),
      persistence_(persistence),
      on_thaw_(std::move(on_thaw)),
      frozen_(util::kSlotCount, 0) {
  keyspace_->set_change_tracker(&tracker_);
}

ServerPartitions::~ServerPartitions() { keyspace_->set_change_tracker(nullptr); }

util::Status ServerPartitions::ReadRange(uint32_t first_slot, uint32_t end_slot,
                                         std::string_view from, size_t max_bytes,
                                         std::vector<cluster::TransferRecord>* out,
                                         std::string* next) {
  next->clear();
  std::unique_ptr<storage::Iterator> it = keyspace_->engine()->NewIterator();
  std::string start = SlotStart(first_slot);
  it->Seek(from.empty() || from < start ? std::string_view(start) : from);
  size_t bytes = 0;
  for (; it->Valid() && storage::StorageKeySlot(it->key()) < end_slot; it->Next()) {
    if (!out->empty() && bytes >= max_bytes) {
      next->assign(it->key());
      break;
    }
    cluster::TransferRecord r;
    r.key.assign(it->key());
    r.record.assign(it->value());
    bytes += r.key.size() + r.record.size();
    out->push_back(std::move(r));
  }
  return it->status();
}

util::Status ServerPartitions::Apply(const std::vector<cluster::TransferRecord>& records) {
  for (const cluster::TransferRecord& r : records) {
    if (r.key.size() < 2) return util::Status::Corruption("transfer record without a slot");
    util::Status s =
        r.present ? keyspace_->PutRecord(r.key, r.record) : keyspace_->DeleteRecord(r.key);
    if (!s.ok()) return s;
  }
  return util::Status::OK();
}

util::Status ServerPartitions::ClearSome(uint32_t first_slot, uint32_t end_slot, size_t max_records,
                                         bool* empty, size_t* deleted) {
  std::vector<std::string> keys;
  {
    std::unique_ptr<storage::Iterator> it = keyspace_->engine()->NewIterator();
    it->Seek(SlotStart(first_slot));
    for (; it->Valid() && storage::StorageKeySlot(it->key()) < end_slot; it->Next()) {
      if (keys.size() >= max_records) break;
      keys.emplace_back(it->key());
    }
    if (!it->status().ok()) return it->status();
    *empty = !it->Valid() || storage::StorageKeySlot(it->key()) >= end_slot;
  }
  *deleted = 0;
  for (const std::string& k : keys) {
    util::Status s = keyspace_->DeleteRecord(k);
    if (!s.ok()) return s;
    (*deleted)++;
  }
  return util::Status::OK();
}

void ServerPartitions::Track(uint32_t first_slot, uint32_t end_slot) {
  tracker_.Track(first_slot, end_slot);
}

bool ServerPartitions::Tracking(uint32_t first_slot, uint32_t end_slot) const {
  return tracker_.Tracking(first_slot, end_slot);
}

void ServerPartitions::Untrack(uint32_t first_slot, uint32_t end_slot) {
  tracker_.Untrack(first_slot, end_slot);
}

util::Status ServerPartitions::TakeChanged(uint32_t first_slot, uint32_t end_slot, size_t max_bytes,
                                           std::vector<cluster::TransferRecord>* out, bool* done) {
  // Keys in batches, so a byte budget bounds the reply.
  size_t bytes = 0;
  *done = false;
  while (!*done && (max_bytes == 0 || bytes < max_bytes)) {
    std::vector<std::string> keys = tracker_.Take(first_slot, end_slot, 256, done);
    for (std::string& k : keys) {
      cluster::TransferRecord r;
      std::string_view value;
      util::Status s = keyspace_->engine()->Get(k, &value, &scratch_);
      if (s.ok()) {
        r.record.assign(value);
      } else if (s.IsNotFound()) {
        r.present = false;
      } else {
        return s;
      }
      r.key = std::move(k);
      bytes += r.key.size() + r.record.size();
      out->push_back(std::move(r));
    }
  }
  return util::Status::OK();
}

void ServerPartitions::WhenDurable(std::function<void()> fn) {
  if (persistence_ == nullptr) {
    fn();
    return;
  }
  persistence_->WhenDurable(std::move(fn));
}

void ServerPartitions::Freeze(uint32_t first_slot, uint32_t end_slot) {
  for (uint32_t s = first_slot; s < end_slot && s < util::kSlotCount; s++) {
    if (frozen_[s] == 0) frozen_count_++;
    frozen_[s] = 1;
  }
}

void ServerPartitions::Thaw(uint32_t first_slot, uint32_t end_slot) {
  bool any = false;
  for (uint32_t s = first_slot; s < end_slot && s < util::kSlotCount; s++) {
    if (frozen_[s] != 0) {
      frozen_count_--;
      any = true;
    }
    frozen_[s] = 0;
  }
  if (any && on_thaw_) on_thaw_();
}

}  // namespace kv::server
