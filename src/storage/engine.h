// Engine: the storage interface every node's keyspace sits on. An ordered
// map from storage key (2-byte big-endian slot + user key, DESIGN.md
// section 3) to an encoded Record (record.h). Ordered so a slot, a
// partition or a SCAN cursor is one contiguous range. Implementations:
// MemoryEngine (`storage memory`) now, the LSM next.
//
// Thread safety: an Engine is used from the loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "util/status.h"

namespace kv::storage {

// Builds the storage key for (slot, user key) into *out.
void MakeStorageKey(uint16_t slot, std::string_view user_key, std::string* out);
inline uint16_t StorageKeySlot(std::string_view skey) {
  return static_cast<uint16_t>((static_cast<uint8_t>(skey[0]) << 8) |
                               static_cast<uint8_t>(skey[1]));
}
inline std::string_view StorageKeyUserKey(std::string_view skey) { return skey.substr(2); }

// Walks records in storage-key order. Not valid across engine mutations.
class Iterator {
 public:
  virtual ~Iterator() = default;
  virtual bool Valid() const = 0;
  // Positions at the first key >= target.
  virtual void Seek(std::string_view target) = 0;
  virtual void SeekToFirst() = 0;
  virtual void Next() = 0;
  // REQUIRES: Valid().
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  // OK unless reading failed (a corrupt block, an I/O error); the iterator
  // is then !Valid().
  virtual util::Status status() const { return util::Status::OK(); }
};

struct EngineStats {
  uint64_t keys = 0;
  uint64_t keys_with_expiry = 0;
  uint64_t data_bytes = 0;  // keys + values as stored
};

class Engine {
 public:
  virtual ~Engine() = default;

  // Finds `skey`. OK with *value set (pointing into the engine, valid until
  // the next mutation, or into *scratch); NotFound if absent; Corruption or
  // IOError if the stored bytes cannot be read.
  [[nodiscard]] virtual util::Status Get(std::string_view skey, std::string_view* value,
                                         std::string* scratch) = 0;
  // A hint that Gets and Puts of skeys[0, n) follow soon (a pipelined
  // batch): the engine may start loading what they will read, so their
  // cache misses overlap. Changes nothing; the default ignores it.
  virtual void Prefetch(const std::string_view* /*skeys*/, size_t /*n*/) {}
  // Stores `value` under `skey`, replacing what was there. `expire_at_ms` is
  // the record's effective expiry (0 = none) for the engine's expiry index.
  [[nodiscard]] virtual util::Status Put(std::string_view skey, std::string_view value,
                                         int64_t expire_at_ms) = 0;
  // Removes `skey`; OK whether or not it existed.
  [[nodiscard]] virtual util::Status Delete(std::string_view skey) = 0;
  // Removes everything, durably.
  [[nodiscard]] virtual util::Status Clear() = 0;
  virtual std::unique_ptr<Iterator> NewIterator() = 0;
  virtual EngineStats Stats() const = 0;

  // True if Stats().keys is exact and DeleteExpiredSample works. An
  // engine that cannot (the LSM) leaves key counting and the expiry index
  // to its owner.
  virtual bool TracksKeys() const { return true; }

  // Active expiry (Redis's activeExpireCycle): examines up to `max_samples`
  // random keys that carry an expiry and deletes those expired at `now_ms`.
  // Returns how many it deleted; *sampled gets how many it looked at.
  virtual size_t DeleteExpiredSample(int64_t now_ms, size_t max_samples, size_t* sampled) = 0;
};

}  // namespace kv::storage
