// LsmEngine: the hand-written log-structured merge tree behind `storage
// lsm` (DESIGN.md section 6). Writes go to the WAL and the memtable; a full
// memtable becomes immutable and a background thread writes it to a level-0
// SSTable while writes continue; the same thread compacts levels (leveled,
// LevelDB-style) and records every change of the live file set in the
// manifest. Reads check the memtable, the immutable memtable, then the
// tables newest first, each behind its Bloom filter and the block cache.
//
// Durability: Put/Delete append to the WAL's user-space buffer. The owner
// calls FlushWal() once per event-loop iteration (a write(2), as Redis's
// AOF does in beforeSleep) and SyncWal() from a worker thread for
// appendfsync always/everysec; DurableSequence() says what is on disk.
//
// Thread safety: Put/Delete/Get/NewIterator/FlushWal and the Engine methods
// are called from one thread (the loop). SyncWal may run concurrently on
// one worker thread. Background work runs on the engine's own thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/dbformat.h"
#include "storage/engine.h"
#include "storage/env.h"

namespace kv::storage {

struct LsmOptions {
  std::string dir;                          // the data directory
  Env* env = nullptr;                       // Env::Default() if null
  size_t memtable_bytes = 64 << 20;         // memtable-size
  size_t block_size = 4096;                 // block-size
  int bloom_bits_per_key = 10;              // bloom-bits-per-key
  bool compression = true;                  // compression snappy|none
  size_t block_cache_bytes = 64 << 20;      // block-cache-size
  size_t table_cache_size = 1000;           // table-cache-size: SSTables kept open
  size_t target_file_bytes = 8 << 20;       // SSTable size produced by compaction
  uint64_t level1_max_bytes = 64ULL << 20;  // level n holds 10^(n-1) times this
  int level0_compaction_trigger = 4;        // L0 files that start a compaction
  int level0_stop_writes = 12;              // L0 files that stall writes
  int64_t tombstone_gc_seconds = 86400;     // keep deletions this long
  // Called from the background thread after a flush or compaction finished
  // (so a stalled owner can resume). Must be thread safe; may be empty.
  std::function<void()> on_background_done;
  // Where recovery notes go (torn WAL tail truncated, ...). May be empty.
  std::function<void(const std::string&)> info_log;
};

struct LsmStats {
  uint64_t memtable_bytes = 0;
  uint64_t immutable_memtable_bytes = 0;
  int levels = 0;
  std::vector<uint64_t> files_per_level;
  std::vector<uint64_t> bytes_per_level;
  bool compaction_pending = false;
  bool compaction_running = false;
  bool write_stalled = false;
  uint64_t flushes = 0;
  uint64_t compactions = 0;
  uint64_t bytes_written_flush = 0;
  uint64_t bytes_written_compaction = 0;
  uint64_t user_bytes_written = 0;  // bytes of keys+values given to Put
  uint64_t bloom_useful = 0;        // table lookups the filter avoided
  uint64_t bloom_checked = 0;       // table lookups that consulted a filter
  uint64_t bloom_false_positives = 0;
  uint64_t block_cache_hits = 0;
  uint64_t block_cache_misses = 0;
  uint64_t table_cache_open = 0;  // tables open now (one fd each)
  uint64_t table_cache_capacity = 0;
  uint64_t table_cache_hits = 0;
  uint64_t table_cache_misses = 0;  // opens of a table that was closed
  uint64_t table_cache_memory = 0;  // index blocks and filters held open
  uint64_t disk_bytes = 0;          // tables + WAL
  uint64_t wal_bytes = 0;
  uint64_t estimated_keys = 0;
  uint64_t stall_count = 0;
  std::string last_background_error;
};

class LsmEngine final : public Engine {
 public:
  // Opens (or creates) the store in options.dir: replays the manifest, then
  // the WAL (a torn tail is truncated and logged). Refuses to start with a
  // clear Corruption if CURRENT is missing or unreadable while data files
  // exist, rather than starting empty.
  [[nodiscard]] static util::Status Open(const LsmOptions& options,
                                         std::unique_ptr<LsmEngine>* out);
  ~LsmEngine() override;

  // Engine.
  util::Status Get(std::string_view skey, std::string_view* value, std::string* scratch) override;
  // Prefetches in the mutable memtable only: a batch's keys are mostly
  // there (hot keys are rewritten), and older layers cost a search.
  void Prefetch(const std::string_view* skeys, size_t n) override;
  util::Status Put(std::string_view skey, std::string_view value, int64_t expire_at_ms) override;
  util::Status Delete(std::string_view skey) override;
  util::Status Clear() override;
  std::unique_ptr<Iterator> NewIterator() override;
  EngineStats Stats() const override;
  size_t DeleteExpiredSample(int64_t now_ms, size_t max_samples, size_t* sampled) override;
  bool TracksKeys() const override { return false; }

  // Writes buffered WAL records to the OS (no fsync). Loop thread.
  [[nodiscard]] util::Status FlushWal();
  // fdatasyncs the WAL up to everything flushed so far. Safe to call from
  // one worker thread while the loop thread keeps writing; returns the
  // sequence number that is now durable.
  [[nodiscard]] util::Status SyncWal(SequenceNumber* durable);
  SequenceNumber LastSequence() const { return last_sequence_; }
  SequenceNumber DurableSequence() const { return durable_sequence_.load(); }
  // True while writes should wait: the memtable is full and the previous
  // one is still being flushed, or level 0 has too many files.
  bool WriteStalled() const;
  LsmStats GetStats() const;
  // Get keeps the current Version (and immutable memtable) between calls to
  // skip a lock per read; this lets go of them, so tables that compaction
  // has replaced since can leave the disk. Loop thread; the server calls it
  // from its cron.
  void ReleaseReadState();
  // Blocks until no flush or compaction is pending, then removes tables no
  // Version names (tests, benchmarks).
  void WaitForBackgroundWork();
  // Flushes the memtable and compacts everything into the last level
  // (tests and benchmarks).
  [[nodiscard]] util::Status CompactAll();

  struct Impl;

 private:
  explicit LsmEngine(std::unique_ptr<Impl> impl);
  // Raises DurableSequence() to at least `seq` (a flushed memtable is
  // durable in its table). Any thread.
  void AdvanceDurable(SequenceNumber seq) {
    SequenceNumber prev = durable_sequence_.load();
    while (prev < seq && !durable_sequence_.compare_exchange_weak(prev, seq)) {
    }
  }
  // Switches to a new memtable and WAL when the current one is full.
  util::Status MakeRoomForWrite();
  // Makes the memtable immutable (for the background thread to flush) and
  // starts a new one with a new WAL. REQUIRES: no immutable memtable.
  util::Status FreezeMemtable();
  // Starts a new WAL file; the old one stays until its memtable is flushed.
  util::Status SwitchLog();
  std::unique_ptr<Impl> impl_;
  SequenceNumber last_sequence_ = 0;
  std::atomic<SequenceNumber> durable_sequence_{0};
};

}  // namespace kv::storage
