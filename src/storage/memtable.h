// MemTable: the LSM's in-memory write buffer (DESIGN.md section 6). Every
// write lands here after the WAL; when it is full the DB freezes it
// (immutable: no more Add) and a worker thread writes it out as an SSTable
// while the loop thread keeps reading it.
//
// Entries are ordered by internal key (dbformat.h: storage key ascending,
// then sequence descending), so all versions of a key are adjacent, newest
// first. Keys are spread over 65,536 skiplists by their first two bytes
// (for storage keys: the hash slot), so inserting a new key searches a list
// of a few keys (~6 per slot at 100k keys) rather than one of all of them:
// a search of one big list cost about 25 dependent cache misses and a
// fifth of the loop thread's time on durable SETs (perf, server bench).
// Iteration walks the non-empty buckets in order (a bitmap finds the next
// one), which is internal key order because a key's bucket is a prefix of
// it. Each skiplist holds one node per user key, not one per version:
// the versions of a key hang off its node as a chain, newest first. A write
// to a key already in the memtable (the common case: a hot key space
// rewritten many times before the memtable fills) is then a hash probe and
// a chain push instead of a skiplist search, which cost ~30 dependent cache
// misses per SET at a few hundred thousand entries (perf, server bench).
// Every version is an arena allocation holding its full entry:
//
//   version := older:ptr  entry
//   entry   := ikey_len:varint  internal_key:bytes[ikey_len]
//              value_len:varint value:bytes[value_len]
//   internal_key := storage_key  fixed64(sequence << 8 | type)
//
// and a key's first version is co-allocated with its skiplist node
// (skiplist.h, AllocateNode), behind the chain head:
//
//   node payload := newest:ptr  version
//
// The skiplist key is that first entry (compared by user key only); the
// chain head `newest` sits 16 bytes before it. The value is opaque here
// (the encoded record). Nothing is ever removed or changed in place: a
// deletion is an entry of type kTypeDeletion, and the memory goes when the
// MemTable is destroyed.
//
// Thread safety: Add is for one thread at a time (the loop thread). Get
// uses a hash index that Add updates, so it runs on the writer's thread, or
// on any thread once the memtable is immutable. NewIterator, the iterators,
// ApproximateMemoryUsage and NumEntries need no lock and may run on any
// thread, concurrently with Add and each other (the skiplist's
// single-writer, many-reader protocol). The MemTable must outlive
// its iterators and every value view handed out by Get.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "storage/arena.h"
#include "storage/dbformat.h"
#include "storage/engine.h"
#include "storage/skiplist.h"

namespace kv::storage {

class MemTable {
 public:
  // `cmp` must outlive the memtable. (InternalKeyComparator is final, so
  // the order is always user key bytewise, then sequence descending.)
  // `expected_keys`: distinct user keys this memtable will likely hold
  // (the previous memtable's count); the index starts at a size for that
  // many instead of growing to it by doubling, each step rehashing every
  // key (~1.3% of the loop thread on durable SETs).
  explicit MemTable(const InternalKeyComparator* cmp, size_t expected_keys = 0);
  MemTable(const MemTable&) = delete;
  MemTable& operator=(const MemTable&) = delete;

  // Adds the entry (user_key, seq, type) -> value. For a deletion `value`
  // is normally empty (it is stored either way). REQUIRES: seq <=
  // kMaxSequenceNumber; no entry with the same user_key, seq and type was
  // added before (the DB hands out each sequence number once); one writer
  // at a time.
  void Add(SequenceNumber seq, ValueType type, std::string_view user_key, std::string_view value);

  // Starts loading what Get and Add of each of keys[0, n) will read: the
  // index slot, then (if the key is there) its skiplist node and chain
  // head, then its newest version. A pipelined batch's cache misses then
  // overlap instead of following one another (they were most of a memtable
  // probe's time: perf, server bench). A hint only: it changes nothing.
  // Writer's thread (it reads the index).
  void Prefetch(const std::string_view* keys, size_t n) const;

  // Looks for the newest entry for `user_key` with sequence <= `seq`.
  // Returns false if there is none (outputs untouched). Returns true if
  // there is one and sets *deleted: true if it is a deletion, otherwise
  // false with *value viewing the stored value in the arena, valid for the
  // memtable's life. One hash probe, then a walk down the key's version
  // chain if `seq` is older than its newest version.
  bool Get(std::string_view user_key, SequenceNumber seq, std::string_view* value,
           bool* deleted) const;

  // Iterates every entry in InternalKeyComparator order: key() is the
  // internal key, value() the value. Seek takes an internal key (REQUIRES:
  // at least 8 bytes; use kMaxSequenceNumber and kValueTypeForSeek to land
  // on a user key's newest entry). status() is always OK. An iterator created while Add
  // runs on another thread may or may not see the new entries.
  std::unique_ptr<Iterator> NewIterator() const;
  // The same order, but each user key's newest entry only (what a flush
  // writes: nothing reads older versions from a table, see lsm_engine.cc).
  // Older versions are skipped without being read.
  std::unique_ptr<Iterator> NewNewestIterator() const;

  // Bytes held by the arena (entries, skiplist nodes, block slack). The
  // DB compares it with the write-buffer size to decide when to freeze.
  size_t ApproximateMemoryUsage() const {
    return arena_.MemoryUsage() + index_bytes_.load(std::memory_order_relaxed);
  }
  uint64_t NumEntries() const { return num_entries_.load(std::memory_order_relaxed); }
  // Distinct user keys. Writer's thread, or any once immutable.
  size_t NumKeys() const { return index_count_; }

 private:
  // Orders skiplist keys, which point at encoded entries (and lookup keys,
  // which share the entry's ikey_len + internal_key prefix), by user key
  // alone, bytewise (the user-key part of InternalKeyComparator's order;
  // versions are ordered by their chain). `cmp` is the reference Debug
  // builds check it against.
  struct EntryComparator {
    const InternalKeyComparator* cmp;
    int operator()(const char* a, const char* b) const;
  };
  using Table = SkipList<const char*, EntryComparator>;
  class TableIterator;

  // Buckets: the first two bytes of a user key, big-endian, zero-padded if
  // shorter; bytewise order on keys never decreases the bucket.
  static constexpr size_t kBuckets = 65536;
  static size_t BucketOf(std::string_view user_key) {
    size_t b = user_key.empty() ? 0 : static_cast<size_t>(static_cast<uint8_t>(user_key[0])) << 8;
    if (user_key.size() > 1) b |= static_cast<uint8_t>(user_key[1]);
    return b;
  }
  // The list of bucket `b`, created (in the arena) if needed. Writer only.
  Table* ListFor(size_t b);
  // Publishes a new list once it holds its first node, so a visible list
  // is never empty. Writer only.
  void Publish(size_t b, Table* list);
  // The first non-empty bucket >= b, or kBuckets. Any thread.
  size_t NextBucket(size_t b) const;
  const Table* List(size_t b) const { return lists_[b].load(std::memory_order_acquire); }
  // lists_[b] is published before its bit in occupied_ (both release), so
  // a reader that sees the bit sees the list.
  std::unique_ptr<std::atomic<Table*>[]> lists_;
  std::unique_ptr<std::atomic<uint64_t>[]> occupied_;
  Table* pending_list_ = nullptr;  // created by ListFor, not yet published
  size_t pending_bucket_ = 0;

  // Every user key's skiplist node, so Get is one hash probe instead of a
  // skiplist search (~2,800 instructions at 400k entries, measured with
  // cachegrind), a miss costs no search at all, and Add finds an existing
  // key's chain without searching. Open addressing with linear probing;
  // written by Add only, so Get may use it on the writer's thread, or on
  // any thread once the memtable is immutable.
  struct IndexSlot {
    uint64_t hash;
    const char* node;  // the skiplist key (first entry); nullptr = empty
  };
  // True if `keys` keys in `slots` slots exceed the 0.7 load the index
  // grows at (linear probing slows sharply above it).
  static bool IndexOverloaded(size_t keys, size_t slots) { return keys * 10 > slots * 7; }
  // The slot for `user_key`, or the empty slot where it would go.
  IndexSlot* IndexProbe(std::string_view user_key, uint64_t hash);
  const IndexSlot* IndexFind(std::string_view user_key, uint64_t hash) const;
  void IndexGrow();
  // Prefetch works on this many keys at a time (its arrays are on the
  // stack); a server batch is smaller (Keyspace::kMaxPrefetch).
  static constexpr size_t kPrefetchChunk = 32;
  // Links `entry` (an allocated version with its older link at entry - 8)
  // into the chain of `node`, keeping it newest first.
  static void ChainInsert(const char* node, const char* entry);
  std::vector<IndexSlot> index_;
  size_t index_count_ = 0;
  std::atomic<size_t> index_bytes_{0};

  const InternalKeyComparator* const cmp_;
  Arena arena_;
  std::atomic<uint64_t> num_entries_{0};
};

}  // namespace kv::storage
