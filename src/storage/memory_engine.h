// MemoryEngine: the `storage memory` engine, for pure caches. An open-
// addressing hash table (linear probing, backward-shift deletion) answers
// point lookups in O(1); per-slot sorted vectors keep storage-key order for
// iteration, so a slot is a contiguous, ordered range exactly as in the LSM.
// Measured choice: see DESIGN notes in src/storage/README.md.
//
// Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "storage/engine.h"
#include "util/random.h"

namespace kv::storage {

class MemoryEngine final : public Engine {
 public:
  MemoryEngine();
  ~MemoryEngine() override;

  util::Status Get(std::string_view skey, std::string_view* value, std::string* scratch) override;
  util::Status Put(std::string_view skey, std::string_view value, int64_t expire_at_ms) override;
  util::Status Delete(std::string_view skey) override;
  util::Status Clear() override;
  std::unique_ptr<Iterator> NewIterator() override;
  EngineStats Stats() const override;
  size_t DeleteExpiredSample(int64_t now_ms, size_t max_samples, size_t* sampled) override;

  struct Entry {
    std::string key;
    std::string value;
    int64_t expire_at_ms = 0;
    uint32_t expire_index = 0;  // position in expiring_, valid when expire_at_ms != 0
  };

 private:
  friend class MemoryIterator;
  struct Bucket {
    uint64_t hash;
    Entry* entry;  // nullptr = empty
  };

  // Returns the bucket index holding skey, or the empty bucket where it
  // would go.
  size_t FindBucket(std::string_view skey, uint64_t hash) const;
  void GrowTable();
  void RemoveBucket(size_t index);
  void SlotInsert(Entry* e);
  void SlotRemove(Entry* e);
  void SetExpire(Entry* e, int64_t expire_at_ms);
  void FreeAll();

  std::vector<Bucket> table_;
  size_t mask_ = 0;
  size_t count_ = 0;
  uint64_t data_bytes_ = 0;
  // For each slot, its entries sorted by key.
  std::vector<std::vector<Entry*>> slots_;
  std::vector<Entry*> expiring_;
  util::Random random_;
};

}  // namespace kv::storage
