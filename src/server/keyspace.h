// Keyspace: the Redis-visible view of a node's data. Maps user keys to
// storage keys (slot + key), turns every write into a new version (a fresh
// dot from this node, a timestamp, an expiry) whose context covers what was
// stored, and applies TTL semantics: a key whose winning version has expired
// reads as missing and is deleted on access (lazy expiry), and an active
// cycle samples keys with a TTL like Redis's activeExpireCycle.
//
// Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "server/change_tracker.h"
#include "storage/engine.h"
#include "storage/record.h"
#include "util/crc16.h"
#include "util/random.h"
#include "util/status.h"

namespace kv::server {

struct KeyspaceStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t expired = 0;
};

class Keyspace {
 public:
  Keyspace(std::unique_ptr<storage::Engine> engine, uint64_t node_id);

  // The time every TTL decision uses until the next call (Redis caches the
  // clock per command batch too, so a pipeline sees one consistent "now").
  void set_now_ms(int64_t now) { now_ms_ = now; }
  int64_t now_ms() const { return now_ms_; }
  uint64_t node_id() const { return node_id_; }

  // Live value of `key`. True with *value (valid until the next write) and
  // *expire_at_ms (0 = none); false if missing or expired. Counts a
  // keyspace hit or miss when `count_stats`.
  bool Get(std::string_view key, std::string_view* value, int64_t* expire_at_ms,
           bool count_stats = true);
  bool Exists(std::string_view key);
  // Tells the engine that commands on keys[0, n) (user keys) run next, so
  // it can prefetch (Engine::Prefetch). At most kMaxPrefetch are used.
  static constexpr size_t kMaxPrefetch = 16;
  void Prefetch(const std::string_view* keys, size_t n);
  // Writes `value` as a new version superseding what is stored.
  [[nodiscard]] util::Status Set(std::string_view key, std::string_view value,
                                 int64_t expire_at_ms);
  // Removes a live key. True if it existed.
  bool Delete(std::string_view key);
  // Changes only the expiry of a live key (a new version with the same
  // value). False if the key is missing.
  bool SetExpire(std::string_view key, int64_t expire_at_ms);

  uint64_t KeyCount() const { return tracks_keys_ ? engine_->Stats().keys : live_keys_; }
  uint64_t KeysWithExpiry() const {
    return tracks_keys_ ? engine_->Stats().keys_with_expiry : expiry_index_.size();
  }
  storage::EngineStats EngineStats() const;
  [[nodiscard]] util::Status Clear();
  // For an engine that does not count keys (the LSM): walks every record
  // once to count live keys and index the ones with a TTL. Call at startup.
  [[nodiscard]] util::Status LoadKeyIndex();
  storage::Engine* engine() { return engine_.get(); }

  // One SCAN step from `cursor`: visits at least `count` stored keys (more
  // if needed to finish keys sharing the cursor's prefix) and calls `emit`
  // for each live one. Returns the next cursor, 0 when done. Cursors encode
  // a position in storage-key order (slot << 48 | first 6 key bytes), so
  // they stay valid across restarts and rehashing: every key present for
  // the whole scan is returned at least once.
  // In a cluster a step stays within [cursor's slot, end_slot) (the run of
  // slots one node owns) and then returns end_slot's cursor.
  uint64_t Scan(uint64_t cursor, size_t count, const std::function<void(std::string_view)>& emit,
                uint32_t end_slot = util::kSlotCount);
  // Stored records (live or not yet compacted away) whose slot is in
  // [first_slot, end_slot): what a partition move would have to carry.
  // *bytes (if given) gets their size, keys and records.
  uint64_t CountRecordsInSlots(uint32_t first_slot, uint32_t end_slot, uint64_t* bytes = nullptr);
  // Calls `emit` for every live key in storage-key order.
  void ForEachKey(const std::function<void(std::string_view)>& emit);

  // Partition transfers (cluster/transfer.h) move records as stored: these
  // write and delete by storage key, keeping the key count and expiry
  // index right. A record may be expired or hold only tombstones.
  [[nodiscard]] util::Status PutRecord(std::string_view skey, std::string_view record);
  [[nodiscard]] util::Status DeleteRecord(std::string_view skey);
  // Every write and delete from now on is noted there (nullptr: none).
  void set_change_tracker(ChangeTracker* tracker) { tracker_ = tracker; }

  // Active expiry: deletes expired keys by sampling for at most
  // `budget_us`. Returns how many it deleted.
  size_t ActiveExpireCycle(int64_t budget_us, int effort);

  const KeyspaceStats& stats() const { return stats_; }
  void ResetStats() { stats_ = KeyspaceStats(); }

 private:
  // Looks up and decodes; handles lazy expiry. Fills record_ and returns
  // the winner, or nullptr if missing/expired/tombstone.
  const storage::VersionView* Lookup(std::string_view key);
  // Sets skey_ to the storage key of user key `key`.
  void SetStorageKey(std::string_view key);
  util::Status WriteVersion(std::string_view value, int64_t expire_at_ms, bool had_record);
  // Bookkeeping for engines that do not track keys (skey_ is the key).
  void NoteWritten(bool existed, int64_t expire_at_ms);
  void NoteRemoved();
  size_t SampleExpiryIndex(size_t max_samples, size_t* sampled);
  // Deletes a key found expired and counts it.
  void ExpireNow(std::string_view skey);

  // True if the record's winner is live now, with its expiry.
  bool IsLive(const storage::RecordView& rec, int64_t* expire_at_ms) const;
  // For the key count of an engine that does not keep one: true if a live
  // record is stored under `skey` (always false when the engine counts).
  bool StoredLive(std::string_view skey);
  void NoteChange(std::string_view skey) {
    if (tracker_ != nullptr) tracker_->Note(skey);
  }

  std::unique_ptr<storage::Engine> engine_;
  const bool tracks_keys_;
  ChangeTracker* tracker_ = nullptr;
  // Used when !tracks_keys_: exact live-key count, and every key with a TTL
  // (storage key -> expire-at) for active expiry.
  uint64_t live_keys_ = 0;
  std::unordered_map<std::string, int64_t> expiry_index_;
  util::Random sample_random_{0x5eed};
  uint64_t node_id_;
  uint64_t counter_ = 0;
  int64_t now_ms_ = 0;
  KeyspaceStats stats_;
  // Scratch space reused by every call, so the hot path does not allocate.
  std::string skey_;
  // The storage keys the last Prefetch built, for SetStorageKey to reuse
  // (the slot's CRC16 was a tenth of a GET's instructions); reused
  // strings, so a batch allocates nothing.
  std::string prefetch_skeys_[kMaxPrefetch];
  size_t prefetched_ = 0;
  size_t prefetch_next_ = 0;
  std::string scratch_;
  std::string encoded_;
  storage::RecordView record_;
};

}  // namespace kv::server
