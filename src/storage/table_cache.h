// TableCache: the bounded set of open SSTables. Each open table holds a file
// descriptor plus its index block and Bloom filter in memory, so a store of
// many tables keeps only the `capacity` most recently used ones open and
// reopens others on demand (LRU). A table in use (a Get in progress, an
// iterator) stays open until its last user lets go, even if evicted.
//
// Thread safety: all methods may be called from any thread at once (the
// loop thread reads, the background thread compacts).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "storage/engine.h"
#include "storage/env.h"
#include "storage/table/block_cache.h"
#include "storage/table/options.h"
#include "storage/table/table.h"
#include "util/status.h"

namespace kv::storage {

class TableCache {
 public:
  // Tables are files TableFileName(dir, number) opened with `options`,
  // reading data blocks through `block_cache` (may be null; must outlive
  // this). capacity >= 1.
  TableCache(Env* env, std::string dir, const TableOptions& options, BlockCache* block_cache,
             size_t capacity);
  TableCache(const TableCache&) = delete;
  TableCache& operator=(const TableCache&) = delete;

  // OK with *out = table `number` (`file_size` bytes), opened now if it was
  // not open (which may close the least recently used other table). Errors
  // are Table::Open's (Corruption naming the file, IOError); a failed open
  // is not cached, so a later call tries again.
  [[nodiscard]] util::Status Find(uint64_t number, uint64_t file_size, std::shared_ptr<Table>* out);

  // An iterator over table `number` that keeps the table open while it
  // lives. If the table cannot be opened, an iterator that is !Valid() with
  // that error as its status(). `compaction`: see Table::NewIterator.
  std::unique_ptr<Iterator> NewIterator(uint64_t number, uint64_t file_size,
                                        bool compaction = false);

  // Closes table `number` (a deleted file) once its current users finish.
  void Evict(uint64_t number);

  size_t open_tables() const;
  size_t capacity() const { return capacity_; }
  uint64_t hits() const;
  uint64_t misses() const;
  // Index blocks and filters of the open tables.
  size_t MemoryUsage() const;

 private:
  struct Entry {
    std::shared_ptr<Table> table;
    std::list<uint64_t>::iterator lru_pos;  // position in lru_
  };

  Env* const env_;
  const std::string dir_;
  const TableOptions options_;
  BlockCache* const block_cache_;
  const size_t capacity_;

  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Entry> tables_;
  std::list<uint64_t> lru_;  // front: most recently used
  size_t memory_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace kv::storage
