// BlockCache: uncompressed SSTable data blocks kept in memory, keyed by
// (table file number, block offset), bounded in bytes, evicted in
// second-chance (CLOCK) order: the oldest inserted block goes first unless
// it was looked up since it last came to the front; then it goes back to
// the front instead. Close to LRU, but a hit only sets a flag. Sharded by
// key hash, each shard behind its own mutex, so the loop thread's reads and
// compaction threads rarely wait on each other.
//
// Blocks are shared through std::shared_ptr<const Block>: an evicted block
// stays alive while an iterator or Get still uses it and is freed with its
// last user, so eviction never invalidates a reader.
//
// Thread safety: every method is thread safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "storage/table/block.h"

namespace kv::storage {

class BlockCache {
 public:
  // `capacity_bytes` is shared evenly by 2^shard_bits shards (so one shard,
  // shard_bits = 0, gives an exact global eviction order, which tests use).
  explicit BlockCache(size_t capacity_bytes, int shard_bits = 4);
  ~BlockCache();

  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // The cached block, marked as used; null if absent. Counts a hit or a
  // miss.
  std::shared_ptr<const Block> Lookup(uint64_t file_number, uint64_t offset);
  // Caches `block` (evicting blocks of the shard in second-chance order
  // until it fits). A block larger than a shard's capacity is not cached. If the key
  // is already cached the existing block is kept.
  void Insert(uint64_t file_number, uint64_t offset, std::shared_ptr<const Block> block);
  // Drops every block of a table (call when the file is deleted).
  void EraseFile(uint64_t file_number);
  // Changes the bound, evicting at once if usage is above it.
  void SetCapacity(size_t capacity_bytes);

  // Bytes a block is charged: its contents plus bookkeeping.
  static size_t Charge(const Block& block);

  size_t capacity() const { return capacity_.load(std::memory_order_relaxed); }
  size_t usage() const;
  size_t entries() const;
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }

 private:
  struct Key {
    uint64_t file_number;
    uint64_t offset;
    bool operator==(const Key&) const = default;
  };
  // One cached block, linked into its shard's hash chain and eviction list
  // at once (like LevelDB's LRUHandle): a hit costs one chain walk and no
  // allocation, an eviction unlinks in place instead of hashing the key
  // again, and an insert allocates one node instead of a list node plus a
  // map node.
  struct Handle {
    Key key;
    uint64_t hash;
    std::shared_ptr<const Block> block;
    size_t charge;
    bool referenced;  // looked up since it last came to the list's front
    Handle* next_hash;
    Handle* prev;  // eviction list, circular through Shard::lru
    Handle* next;
  };
  struct Shard {
    Shard();
    ~Shard();
    std::mutex mu;
    size_t capacity = 0;
    size_t usage = 0;
    size_t count = 0;
    Handle lru;  // dummy head: lru.next is the newest, lru.prev the next to consider
    std::vector<Handle*> buckets;  // power-of-two size, chained through next_hash
    // REQUIRES for the rest: mu held.
    Handle** FindSlot(const Key& key, uint64_t hash);
    void Remove(Handle* h);  // unlinks from both lists and frees h
    void Grow();
    void EvictTo(size_t limit);
  };
  static uint64_t Hash(const Key& key);
  Shard& ShardFor(uint64_t hash);

  const int shard_bits_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<size_t> capacity_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace kv::storage
