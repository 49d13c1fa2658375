// Table: an open, immutable SSTable (FORMAT.md "SSTable"). Open reads and
// verifies the footer, index, metaindex and Bloom filter and keeps them in
// memory, the index also decoded entry by entry (so a malformed index entry
// fails Open rather than a later read); data blocks are read on demand,
// through the BlockCache when there is one. Every block is checked (bounds,
// CRC32C, decompression, structure) before use; a bad one is a Corruption
// naming the file and block offset, never a crash or a wrong answer.
//
// Thread safety: after Open a Table is immutable, so Get and NewIterator may
// be called from any number of threads at once (reads use pread through the
// thread-safe RandomAccessFile::Read; the only shared mutable state is the
// thread-safe BlockCache). Each iterator is used by one thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/engine.h"
#include "storage/env.h"
#include "storage/table/block.h"
#include "storage/table/block_cache.h"
#include "storage/table/format.h"
#include "storage/table/options.h"
#include "util/status.h"

namespace kv::storage {

class Table {
 public:
  // Opens the table in `file` (`file_size` bytes; table number
  // `file_number`, used in error messages and as the cache key). `cache` may
  // be null (no caching) and must outlive the table. OK with *out set;
  // Corruption naming the file if the footer, index, metaindex or filter is
  // bad or the file is truncated; InvalidArgument if the table was built
  // with another comparator than options.comparator; IOError from reads.
  [[nodiscard]] static util::Status Open(const TableOptions& options,
                                         std::unique_ptr<RandomAccessFile> file, uint64_t file_size,
                                         uint64_t file_number, BlockCache* cache,
                                         std::unique_ptr<Table>* out);

  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;
  ~Table();

  // Lets Get read blocks through a read-only mapping of the table (made by
  // env->MapFile(path)) once `after_reads` lookups have passed its Bloom
  // filter: a block cache miss then checksums and decompresses straight
  // from the page cache, with no read(2) and no copy. A table opened for a
  // probe or two (a table cache smaller than the table count) is never
  // mapped, so it does not pay mmap and munmap. Scan iterators use the
  // mapping once it exists; compaction iterators never do (see
  // NewIterator), so streaming a table does not leave it all mapped into
  // the process's RSS. Call before the table is shared.
  void MapForLookups(Env* env, std::string path, uint32_t after_reads);
  bool lookups_mapped() const { return lookup_view_.load(std::memory_order_acquire) != nullptr; }

  // Point lookup of the newest entry for ExtractUserKey(internal_target)
  // whose sequence is <= internal_target's (make the target with
  // kValueTypeForSeek). The Bloom filter is asked first.
  // OK and *found = false if the table has no such entry; *bloom_skipped
  // then says whether the filter alone ruled it out (no block was read).
  // OK and *found = true with *found_key = the entry's internal key (its type
  // may be kTypeDeletion: the caller interprets it) and *value its value.
  // Corruption naming the file and block offset if a block is bad; IOError
  // if a read fails. found_key and value may be null if not wanted.
  // InvalidArgument if internal_target is shorter than 8 bytes.
  [[nodiscard]] util::Status Get(std::string_view internal_target, bool* found,
                                 std::string* found_key, std::string* value,
                                 bool* bloom_skipped) const;

  // An iterator over every entry in internal-key order (index block, then
  // the data block each index entry points at). Its status() is a
  // Corruption/IOError naming the file and block if a block cannot be read;
  // it is then !Valid() for good. REQUIRES: the table outlives it.
  // `compaction`: a one-pass read of a table about to be replaced; blocks
  // it reads are not added to the block cache and are read with pread
  // even if lookups mapped the table.
  std::unique_ptr<Iterator> NewIterator(bool compaction = false) const;

  uint64_t file_number() const { return file_number_; }
  uint64_t file_size() const { return file_size_; }
  uint64_t NumEntries() const { return props_.num_entries; }
  const TableProperties& properties() const { return props_; }
  bool has_filter() const { return has_filter_; }
  // Bytes this table keeps in memory (index block, its decoded copy, filter).
  size_t MemoryUsage() const;

 private:
  friend class SSTableIterator;
  Table() = default;

  // Decodes a block handle from an index entry's value and returns that data
  // block from the cache or the file. *offset gets the block's offset (for
  // error messages) when the handle decodes.
  util::Status ReadDataBlock(std::string_view handle_value, std::shared_ptr<const Block>* out,
                             uint64_t* offset, bool compaction) const;
  util::Status ReadDataBlock(const BlockHandle& handle, std::shared_ptr<const Block>* out,
                             const RandomAccessFile* from, bool fill_cache) const;
  // Decodes the index block into index_ (Open).
  util::Status BuildIndex();
  // The first index entry whose key is >= internal_target (index_.handles.size()
  // if none): the block that holds the first entry >= target.
  size_t FindIndexEntry(std::string_view internal_target) const;
  // Reads and parses a block outside the cache (index, metaindex, data).
  util::Status ReadBlock(const BlockHandle& handle, std::shared_ptr<const Block>* out,
                         const RandomAccessFile* from) const;

  TableOptions options_;
  std::unique_ptr<RandomAccessFile> file_;
  // MapForLookups state. Only the Get whose count reaches the bar maps the
  // file, so lookup_file_ has one writer; readers on other threads see it
  // through lookup_view_ (release/acquire).
  Env* map_env_ = nullptr;
  std::string map_path_;
  uint32_t map_after_reads_ = 0;
  mutable std::atomic<uint32_t> lookup_reads_{0};
  mutable std::atomic<const RandomAccessFile*> lookup_view_{nullptr};
  mutable std::unique_ptr<RandomAccessFile> lookup_file_;
  // The mapping if one was made, else file_.
  const RandomAccessFile* MappedOrFile() const {
    const RandomAccessFile* mapped = lookup_view_.load(std::memory_order_acquire);
    return mapped != nullptr ? mapped : file_.get();
  }
  // The file Get reads blocks from (MappedOrFile), mapping it on the
  // lookup that reaches the bar.
  const RandomAccessFile* LookupFile() const;
  uint64_t file_size_ = 0;
  uint64_t file_number_ = 0;
  uint64_t blocks_end_ = 0;  // where the footer starts; blocks must end before it
  BlockCache* cache_ = nullptr;
  std::shared_ptr<const Block> index_block_;
  // The index block decoded once, for point lookups. Searching the block
  // itself costs a binary search over ~2,000 restart points per 8 MiB table,
  // each step two cache misses (restart slot, then key) and a varint decode;
  // this searches a dense array of 8-byte key prefixes instead and compares
  // whole keys only among entries whose prefixes tie.
  struct Index {
    std::string key_bytes;              // every entry's internal key, concatenated
    std::vector<uint32_t> key_offsets;  // entry i is [key_offsets[i], key_offsets[i + 1])
    std::vector<BlockHandle> handles;
    // The first `prefixed` entries' user keys all start with the same
    // `common` bytes (the last entry often does not: it is a short
    // successor such as "1" after "0999"). prefixes[i] is the big-endian
    // value of the 8 bytes after them, zero-padded, so prefixes order like
    // the keys. Left empty (prefixed = 0) unless the comparator is the
    // internal-key one, whose order this mirrors.
    std::vector<uint64_t> prefixes;
    size_t common = 0;
    size_t prefixed = 0;
    std::string_view Key(size_t i) const {
      return std::string_view(key_bytes).substr(key_offsets[i],
                                                key_offsets[i + 1] - key_offsets[i]);
    }
  };
  Index index_;
  std::string filter_;
  bool has_filter_ = false;
  TableProperties props_;
};

}  // namespace kv::storage
