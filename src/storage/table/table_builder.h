// TableBuilder writes one SSTable (FORMAT.md "SSTable") from internal keys
// given in sorted order: data blocks as they fill, then at Finish the Bloom
// filter, the metaindex, the index and the footer. It only appends to the
// file, so a table is never read before Finish has written its footer.
//
// Thread safety: not thread safe; one builder is used by one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/env.h"
#include "storage/table/block_builder.h"
#include "storage/table/format.h"
#include "storage/table/options.h"
#include "util/status.h"

namespace kv::storage {

class TableBuilder {
 public:
  // Writes to `file`, which must outlive the builder and be empty. The caller
  // Syncs and Closes the file after Finish.
  TableBuilder(const TableOptions& options, WritableFile* file);
  // REQUIRES: Finish or Abandon was called.
  ~TableBuilder();

  TableBuilder(const TableBuilder&) = delete;
  TableBuilder& operator=(const TableBuilder&) = delete;

  // Adds an entry. REQUIRES: `internal_key` sorts after every key added
  // before (by options.comparator) and Finish/Abandon not called. An
  // out-of-order or malformed key (shorter than 8 bytes) or one entry over
  // 1 GiB sets status() to InvalidArgument; after any error Add does nothing.
  void Add(std::string_view internal_key, std::string_view value);

  // The first error met (a failed Append, a rejected Add), OK otherwise.
  util::Status status() const { return status_; }

  // Writes the rest of the table. OK if the whole file was handed to the
  // WritableFile; the builder is closed either way.
  [[nodiscard]] util::Status Finish();

  // Closes the builder without finishing the table; the caller deletes the
  // file.
  void Abandon();

  uint64_t NumEntries() const { return props_.num_entries; }
  // Bytes written so far: the final file size once Finish returned OK.
  uint64_t FileSize() const { return offset_; }
  const TableProperties& properties() const { return props_; }

 private:
  void FlushDataBlock();
  // Stores a finished block and its trailer; *handle gets its position.
  void WriteBlock(std::string_view contents, bool compress, BlockHandle* handle);
  void Append(std::string_view bytes);
  // The index key for a block ending with last_key_ and followed by `next`
  // (empty `next`: the table's last block).
  void IndexKey(std::string_view next, std::string* out) const;

  const TableOptions options_;
  WritableFile* const file_;
  util::Status status_;
  uint64_t offset_ = 0;
  bool closed_ = false;

  BlockBuilder data_block_;
  BlockBuilder index_block_;
  std::string last_key_;
  // A data block was just flushed; its index entry waits for the next key so
  // the separator can be short.
  bool pending_index_entry_ = false;
  BlockHandle pending_handle_;

  std::vector<uint32_t> key_hashes_;  // Bloom hashes of distinct user keys

  TableProperties props_;
  std::string block_out_;   // one stored block (contents + trailer)
  std::string compressed_;  // Snappy scratch
  std::string index_key_;
};

}  // namespace kv::storage
